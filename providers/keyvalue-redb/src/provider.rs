//! The provider: links (each holding its shared database file) and the wrpc:keyvalue handlers.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use pixelbus_provider_main::{LinkTable, MissingLink, ServedLinks};
use tracing::{info, warn};
use wasmcloud_provider_sdk::{Context, LinkConfig, LinkDeleteInfo, Provider};

use crate::bindings::exports::wrpc::keyvalue::{atomics, batch, store};
use crate::config::RedbConfig;
use crate::db::{KvError, SharedDb};

/// Page size of `list-keys`.
pub const LIST_PAGE: usize = 1000;

struct Link {
    config: RedbConfig,
    db: Arc<SharedDb>,
}

/// A component may link several files or buckets under different link names.
#[derive(Clone, Default)]
pub struct KvRedbProvider {
    links: Arc<LinkTable<Link>>,
}

type KvResult<T> = anyhow::Result<Result<T, store::Error>>;

fn other(e: impl std::fmt::Display) -> store::Error {
    store::Error::Other(e.to_string())
}

/// Runs a blocking database call off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, KvError> + Send + 'static) -> Result<T, store::Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(other),
        Err(e) => Err(other(KvError::Task(e.to_string()))),
    }
}

/// Drops links on a blocking thread: dropping the last holder of a database closes its file,
/// which writes and syncs.
async fn drop_links(links: Vec<Arc<Link>>) {
    if links.is_empty() {
        return;
    }
    if let Err(e) = tokio::task::spawn_blocking(move || drop(links)).await {
        warn!(error = %e, "closing keyvalue-redb links failed");
    }
}

/// The link and table for a call, or return the WIT error from the handler.
macro_rules! target_or_return {
    ($provider:expr, $cx:expr, $bucket:expr) => {
        match $provider.target(&$cx, &$bucket).await {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        }
    };
}

impl KvRedbProvider {
    /// Opens the link's database file (shared with other links naming the same file) and
    /// registers the link. Also used by tests, which have no host.
    pub async fn add_link(&self, component: &str, link_name: &str, config: RedbConfig) -> Result<(), KvError> {
        let path = config.path.clone();
        let db = tokio::task::spawn_blocking(move || SharedDb::open(&path))
            .await
            .map_err(|e| KvError::Task(e.to_string()))??;
        let replaced = self.links.insert(component, link_name, Link { config, db }).await;
        drop_links(replaced.into_iter().collect()).await;
        Ok(())
    }

    /// Forgets a link; its database file closes once no other link (and no call in flight)
    /// uses it. Returns whether the link existed.
    pub async fn remove_link(&self, component: &str, link_name: &str) -> bool {
        let removed = self.links.remove(component, link_name).await;
        let existed = removed.is_some();
        drop_links(removed.into_iter().collect()).await;
        existed
    }

    pub async fn link_count(&self) -> usize {
        self.links.len().await
    }

    async fn link(&self, cx: &Option<Context>) -> Result<Arc<Link>, store::Error> {
        self.links.for_call(cx).await.map_err(|MissingLink { component, link_name }| {
            other(format!("component {component:?} has no keyvalue link named {link_name:?}"))
        })
    }

    /// The calling link's database and the table behind the bucket name it opened.
    async fn target(&self, cx: &Option<Context>, opened: &str) -> Result<(Arc<Link>, String), store::Error> {
        let link = self.link(cx).await?;
        match link.config.bucket_for(opened) {
            Some(table) => Ok((link, table)),
            None => {
                warn!(bucket = opened, "refused bucket name: bucket names are 1-64 letters, digits, '-' or '_'");
                Err(store::Error::NoSuchStore)
            }
        }
    }
}

fn check_size(link: &Link, key: &str, value: &[u8]) -> Result<(), store::Error> {
    let max = link.config.max_value_bytes;
    if value.len() > max {
        return Err(other(KvError::TooLarge { key: key.to_string(), len: value.len(), max }));
    }
    Ok(())
}

impl ServedLinks for KvRedbProvider {
    async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
        self.links.contains(component, link_name).await
    }
}

impl Provider for KvRedbProvider {
    async fn receive_link_config_as_target(&self, link: LinkConfig<'_>) -> anyhow::Result<()> {
        let LinkConfig { source_id, link_name, config, secrets, .. } = link;
        // Secret values are never needed; only their names are checked (and refused).
        let secrets: HashMap<String, String> = secrets.keys().map(|k| (k.clone(), String::new())).collect();
        let parsed = RedbConfig::from_link(config, &secrets)
            .with_context(|| format!("invalid keyvalue-redb link config from {source_id} ({link_name})"))?;
        let path = parsed.path.clone();
        self.add_link(source_id, link_name, parsed)
            .await
            .with_context(|| format!("keyvalue-redb link from {source_id} ({link_name})"))?;
        info!(component = source_id, link_name, path = %path.display(), "keyvalue link ready");
        Ok(())
    }

    async fn delete_link_as_target(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        if self.remove_link(info.get_source_id(), info.get_link_name()).await {
            info!(component = info.get_source_id(), link_name = info.get_link_name(), "keyvalue link removed");
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        drop_links(self.links.drain().await).await;
        Ok(())
    }
}

impl store::Handler<Option<Context>> for KvRedbProvider {
    async fn get(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<Option<Bytes>> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || link.db.get(&table, &key)).await)
    }

    async fn set(&self, cx: Option<Context>, bucket: String, key: String, value: Bytes) -> KvResult<()> {
        let (link, table) = target_or_return!(self, cx, bucket);
        if let Err(e) = check_size(&link, &key, &value) {
            return Ok(Err(e));
        }
        Ok(blocking(move || link.db.set(&table, &key, &value)).await)
    }

    async fn delete(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<()> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || link.db.delete(&table, &key)).await)
    }

    async fn exists(&self, cx: Option<Context>, bucket: String, key: String) -> KvResult<bool> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || link.db.exists(&table, &key)).await)
    }

    async fn list_keys(&self, cx: Option<Context>, bucket: String, cursor: Option<u64>) -> KvResult<store::KeyResponse> {
        let (link, table) = target_or_return!(self, cx, bucket);
        let page = blocking(move || link.db.list_keys(&table, cursor.unwrap_or(0), LIST_PAGE)).await;
        Ok(page.map(|(keys, cursor)| store::KeyResponse { keys, cursor }))
    }
}

impl atomics::Handler<Option<Context>> for KvRedbProvider {
    /// Values are decimal strings; the read, add and write happen in one write transaction.
    async fn increment(&self, cx: Option<Context>, bucket: String, key: String, delta: u64) -> KvResult<u64> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || link.db.increment(&table, &key, delta)).await)
    }
}

impl batch::Handler<Option<Context>> for KvRedbProvider {
    async fn get_many(&self, cx: Option<Context>, bucket: String, keys: Vec<String>) -> KvResult<Vec<Option<(String, Bytes)>>> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || {
            let values = link.db.get_many(&table, &keys)?;
            Ok(keys.into_iter().zip(values).map(|(k, v)| v.map(|v| (k, v))).collect())
        })
        .await)
    }

    /// One transaction: every item is written, or (on any error) none is.
    async fn set_many(&self, cx: Option<Context>, bucket: String, items: Vec<(String, Bytes)>) -> KvResult<()> {
        let (link, table) = target_or_return!(self, cx, bucket);
        if let Some(e) = items.iter().find_map(|(k, v)| check_size(&link, k, v).err()) {
            return Ok(Err(e));
        }
        Ok(blocking(move || link.db.set_many(&table, &items)).await)
    }

    /// One transaction; keys that are not there are skipped.
    async fn delete_many(&self, cx: Option<Context>, bucket: String, keys: Vec<String>) -> KvResult<()> {
        let (link, table) = target_or_return!(self, cx, bucket);
        Ok(blocking(move || link.db.delete_many(&table, &keys)).await)
    }
}
