//! The provider: per-link NATS connections, and the wrpc:keyvalue handlers.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use async_nats::jetstream::context::KeyValueErrorKind;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation};
use bytes::Bytes;
use tokio::sync::RwLock;
use pixelbus_provider_main::{LinkTable, MissingLink, ServedLinks};
use tracing::{info, warn};
use wasmcloud_provider_sdk::{Context, LinkConfig, LinkDeleteInfo, Provider};

use crate::bindings::exports::wrpc::keyvalue::{atomics, batch, store};
use crate::config::{KvConfig, StorageKind};

/// Page size of `list-keys`.
const LIST_PAGE: usize = 1000;
/// Compare-and-swap attempts of `increment` before it gives up.
const INCREMENT_TRIES: u32 = 50;

struct Link {
    config: KvConfig,
    js: async_nats::jetstream::Context,
    /// Opened buckets, by JetStream bucket name.
    stores: RwLock<HashMap<String, kv::Store>>,
}

/// A component may link several buckets under different link names.
#[derive(Clone, Default)]
pub struct KvNatsProvider {
    links: Arc<LinkTable<Link>>,
}

type KvResult<T> = anyhow::Result<Result<T, store::Error>>;

/// The store behind `bucket` for the calling link, or return the WIT error from the handler.
macro_rules! open_or_return {
    ($provider:expr, $cx:expr, $bucket:expr) => {
        match $provider.store(&$cx, &$bucket).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        }
    };
}

fn other(e: impl std::fmt::Display) -> store::Error {
    store::Error::Other(e.to_string())
}

impl KvNatsProvider {
    /// Connects for a new link (also used by tests, which have no host).
    pub async fn add_link(&self, component: &str, link_name: &str, config: KvConfig) -> anyhow::Result<()> {
        let client = config
            .nats
            .connect(&format!("keyvalue-nats:{component}"))
            .await
            .with_context(|| format!("failed to connect to {}", config.nats.cluster_uri))?;
        let js = config.nats.jetstream(client);
        self.links.insert(component, link_name, Link { config, js, stores: RwLock::default() }).await;
        Ok(())
    }

    pub async fn remove_link(&self, component: &str, link_name: &str) -> bool {
        self.links.remove(component, link_name).await.is_some()
    }

    pub async fn link_count(&self) -> usize {
        self.links.len().await
    }

    async fn link(&self, cx: &Option<Context>) -> Result<Arc<Link>, store::Error> {
        self.links.for_call(cx).await.map_err(|MissingLink { component, link_name }| {
            other(format!("component {component:?} has no keyvalue link named {link_name:?}"))
        })
    }

    /// The bucket behind `opened` for the calling link, created on first use.
    async fn store(&self, cx: &Option<Context>, opened: &str) -> Result<kv::Store, store::Error> {
        let link = self.link(cx).await?;
        let name = link.config.bucket_for(opened).ok_or(store::Error::NoSuchStore)?;
        if let Some(s) = link.stores.read().await.get(&name) {
            return Ok(s.clone());
        }
        let opened = match link.js.get_key_value(&name).await {
            Ok(s) => s,
            Err(e) if e.kind() == KeyValueErrorKind::GetBucket => {
                let created = link
                    .js
                    .create_key_value(kv::Config {
                        bucket: name.clone(),
                        history: link.config.history,
                        max_age: link.config.ttl.unwrap_or_default(),
                        max_value_size: link.config.max_value_bytes,
                        storage: match link.config.storage {
                            StorageKind::File => async_nats::jetstream::stream::StorageType::File,
                            StorageKind::Memory => async_nats::jetstream::stream::StorageType::Memory,
                        },
                        ..Default::default()
                    })
                    .await;
                match created {
                    Ok(s) => {
                        info!(bucket = %name, "created keyvalue bucket");
                        s
                    }
                    // Another link or instance created it meanwhile.
                    Err(_) => link.js.get_key_value(&name).await.map_err(other)?,
                }
            }
            Err(e) => return Err(other(format!("bucket {name}: {e}"))),
        };
        link.stores.write().await.insert(name, opened.clone());
        Ok(opened)
    }
}

impl ServedLinks for KvNatsProvider {
    async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
        self.links.contains(component, link_name).await
    }
}

impl Provider for KvNatsProvider {
    async fn receive_link_config_as_target(&self, link: LinkConfig<'_>) -> anyhow::Result<()> {
        let LinkConfig { source_id, link_name, config, secrets, .. } = link;
        let secrets = pixelbus_provider_main::secret_strings(secrets);
        let parsed = KvConfig::from_link(config, &secrets)
            .with_context(|| format!("invalid keyvalue-nats link config from {source_id} ({link_name})"))?;
        self.add_link(source_id, link_name, parsed).await?;
        info!(component = source_id, link_name, "keyvalue link ready");
        Ok(())
    }

    async fn delete_link_as_target(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        if self.remove_link(info.get_source_id(), info.get_link_name()).await {
            info!(component = info.get_source_id(), link_name = info.get_link_name(), "keyvalue link removed");
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        // Dropping the links drops their NATS clients, which closes the connections.
        self.links.drain().await;
        Ok(())
    }
}

impl store::Handler<Option<Context>> for KvNatsProvider {
    async fn get(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<Option<Bytes>> {
        let s = open_or_return!(self, cx, bucket);
        Ok(s.get(key).await.map_err(other))
    }

    async fn set(&self, cx: Option<Context>, bucket: String, key: String, value: Bytes) -> KvResult<()> {
        let s = open_or_return!(self, cx, bucket);
        Ok(s.put(key, value).await.map(|_| ()).map_err(other))
    }

    async fn delete(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<()> {
        let s = open_or_return!(self, cx, bucket);
        // Purge, not delete: no tombstone history is kept for removed keys.
        Ok(s.purge(key).await.map_err(other))
    }

    async fn exists(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<bool> {
        let s = open_or_return!(self, cx, bucket);
        Ok(s.get(key).await.map(|v| v.is_some()).map_err(other))
    }

    async fn list_keys(&self, cx: Option<Context>, bucket: String, cursor: Option<u64>) -> KvResult<store::KeyResponse> {
        use futures::TryStreamExt as _;
        let s = open_or_return!(self, cx, bucket);
        let keys = match s.keys().await {
            Ok(stream) => stream.try_collect::<Vec<String>>().await,
            Err(e) => return Ok(Err(other(e))),
        };
        let mut keys = match keys {
            Ok(k) => k,
            Err(e) => return Ok(Err(other(e))),
        };
        // A stable order makes the numeric cursor meaningful across calls.
        keys.sort_unstable();
        let start = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX).min(keys.len());
        let end = (start + LIST_PAGE).min(keys.len());
        let next = (end < keys.len()).then_some(end as u64);
        Ok(Ok(store::KeyResponse { keys: keys[start..end].to_vec(), cursor: next }))
    }
}

impl atomics::Handler<Option<Context>> for KvNatsProvider {
    /// Values are decimal strings. Compare-and-swap on the entry's revision, so concurrent
    /// increments never lose an update.
    async fn increment(&self, cx: Option<Context>, bucket: String, key: String, delta: u64) -> KvResult<u64> {
        let s = open_or_return!(self, cx, bucket);
        for attempt in 0..INCREMENT_TRIES {
            if attempt > 0 {
                // Contenders that lost a race back off by different amounts, or they keep
                // colliding in lockstep.
                let jitter = u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 4000);
                let backoff = u64::from(attempt.min(10)) * 500 + jitter;
                tokio::time::sleep(std::time::Duration::from_micros(backoff)).await;
            }
            let entry = match s.entry(key.clone()).await {
                Ok(e) => e.filter(|e| e.operation == Operation::Put),
                Err(e) => return Ok(Err(other(e))),
            };
            let (current, revision) = match &entry {
                None => (0, None),
                Some(e) => match std::str::from_utf8(&e.value).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
                    Some(n) => (n, Some(e.revision)),
                    None => return Ok(Err(other(format!("value of {key:?} is not a decimal number")))),
                },
            };
            let Some(next) = current.checked_add(delta) else {
                return Ok(Err(other(format!("incrementing {key:?} by {delta} overflows"))));
            };
            let value = Bytes::from(next.to_string());
            let written = match revision {
                Some(rev) => s.update(&key, value, rev).await.map(|_| ()).map_err(|e| e.to_string()),
                None => match s.create(&key, value).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Err("raced".to_string()),
                    Err(e) => return Ok(Err(other(e))),
                },
            };
            match written {
                Ok(()) => return Ok(Ok(next)),
                Err(why) => warn!(%key, %why, "increment raced, retrying"),
            }
        }
        Ok(Err(other(format!("increment of {key:?} kept racing; gave up after {INCREMENT_TRIES} tries"))))
    }
}

impl batch::Handler<Option<Context>> for KvNatsProvider {
    async fn get_many(&self, cx: Option<Context>, bucket: String, keys: Vec<String>) -> KvResult<Vec<Option<(String, Bytes)>>> {
        let s = open_or_return!(self, cx, bucket);
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match s.get(key.clone()).await {
                Ok(v) => out.push(v.map(|v| (key, v))),
                Err(e) => return Ok(Err(other(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(&self, cx: Option<Context>, bucket: String, items: Vec<(String, Bytes)>) -> KvResult<()> {
        let s = open_or_return!(self, cx, bucket);
        for (key, value) in items {
            if let Err(e) = s.put(key, value).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&self, cx: Option<Context>, bucket: String, keys: Vec<String>) -> KvResult<()> {
        let s = open_or_return!(self, cx, bucket);
        for key in keys {
            if let Err(e) = s.purge(key).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }
}
