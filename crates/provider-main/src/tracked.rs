//! [`ServedLinks`] for a provider that cannot say which links it serves (one built from another
//! crate): a wrapper that records the links the provider accepted.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::RwLock;
use wasmcloud_provider_sdk::{
    HealthCheckRequest, HealthCheckResponse, LinkConfig, LinkDeleteInfo, Provider, ProviderConfigUpdate,
    ProviderInitConfig,
};

use crate::ServedLinks;

type Served = Arc<RwLock<HashSet<(String, String)>>>;

/// Hands every call to the wrapped provider and remembers the links it accepted, keyed by
/// (component, link name), as target (`from`) and as source (`to`).
#[derive(Clone)]
pub struct TrackedLinks<P> {
    inner: P,
    from: Served,
    to: Served,
}

impl<P> TrackedLinks<P> {
    pub fn new(inner: P) -> Self {
        TrackedLinks { inner, from: Served::default(), to: Served::default() }
    }
}

fn key(component: &str, link_name: &str) -> (String, String) {
    (component.to_string(), link_name.to_string())
}

impl<P: Sync> ServedLinks for TrackedLinks<P> {
    async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
        self.from.read().await.contains(&key(component, link_name))
    }

    async fn serves_calls_to(&self, component: &str, link_name: &str) -> bool {
        self.to.read().await.contains(&key(component, link_name))
    }
}

impl<P: Provider + Send> Provider for TrackedLinks<P> {
    async fn init(&self, init_config: impl ProviderInitConfig) -> anyhow::Result<()> {
        self.inner.init(init_config).await
    }

    async fn on_config_update(&self, update: impl ProviderConfigUpdate) -> anyhow::Result<()> {
        self.inner.on_config_update(update).await
    }

    async fn receive_link_config_as_target(&self, config: LinkConfig<'_>) -> anyhow::Result<()> {
        let served = key(config.source_id, config.link_name);
        self.inner.receive_link_config_as_target(config).await?;
        self.from.write().await.insert(served);
        Ok(())
    }

    async fn receive_link_config_as_source(&self, config: LinkConfig<'_>) -> anyhow::Result<()> {
        let served = key(config.target_id, config.link_name);
        self.inner.receive_link_config_as_source(config).await?;
        self.to.write().await.insert(served);
        Ok(())
    }

    async fn delete_link_as_target(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        self.from.write().await.remove(&key(info.get_source_id(), info.get_link_name()));
        self.inner.delete_link_as_target(info).await
    }

    async fn delete_link_as_source(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        self.to.write().await.remove(&key(info.get_target_id(), info.get_link_name()));
        self.inner.delete_link_as_source(info).await
    }

    async fn health_request(&self, request: &HealthCheckRequest) -> anyhow::Result<HealthCheckResponse> {
        self.inner.health_request(request).await
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        self.inner.shutdown().await
    }
}
