//! The provider: per-link NATS connections, and the wrpc:blobstore handler.

use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use futures::{FutureExt as _, Stream, StreamExt as _};
use tokio::sync::mpsc;
use pixelbus_provider_main::{LinkTable, MissingLink, ServedLinks};
use tracing::{info, warn};
use wasmcloud_provider_sdk::{Context, LinkConfig, LinkDeleteInfo, Provider};
use wrpc_interface_blobstore::bindings::exports::wrpc::blobstore::blobstore::Handler;
use wrpc_interface_blobstore::bindings::wrpc::blobstore::types::{ContainerMetadata, ObjectId, ObjectMetadata};

use crate::config::BlobConfig;
use crate::error::{BlobError, LinkError};
use crate::store::Link;

/// Chunks read ahead of the consumer of `get-container-data` (each at most `chunk_bytes`).
const READ_AHEAD: usize = 2;
/// Names buffered ahead of the consumer of `list-container-objects`, and names per batch.
const LIST_AHEAD: usize = 256;
const LIST_BATCH: usize = 128;

/// A component may link several NATS servers or prefixes under different link names.
#[derive(Clone, Default)]
pub struct BlobNatsProvider {
    links: Arc<LinkTable<Link>>,
}

type Streamed<T> = Pin<Box<dyn Stream<Item = T> + Send>>;
type Status = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Reply<T> = anyhow::Result<Result<T, String>>;

/// A handler's answer: blobstore errors travel to the component as strings.
fn reply<T>(result: Result<T, BlobError>) -> Reply<T> {
    Ok(result.map_err(|e| e.to_string()))
}

/// The status future of a streamed result, logging a failure the component might never read.
fn status(what: String, work: impl Future<Output = Result<(), BlobError>> + Send + 'static) -> Status {
    Box::pin(work.map(move |result| {
        result.map_err(|e| {
            warn!(error = %e, "{what} failed");
            e.to_string()
        })
    }))
}

/// A stream of what `rx` receives, ending when every sender is gone.
fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> Streamed<T> {
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

impl BlobNatsProvider {
    /// Connects for a new link, replacing any link of the same component and name (also used by
    /// tests, which have no host).
    pub async fn add_link(&self, component: &str, link_name: &str, config: BlobConfig) -> Result<(), LinkError> {
        let client = config.nats.connect(&format!("blobstore-nats:{component}")).await?;
        let max_payload = client.server_info().max_payload;
        if max_payload > 0 && config.chunk_bytes > max_payload {
            return Err(LinkError::ChunkTooBig { chunk_bytes: config.chunk_bytes, max_payload });
        }
        let js = config.nats.jetstream(client);
        self.links.insert(component, link_name, Link { config, js }).await;
        Ok(())
    }

    /// Drops a link and with it its NATS connection (once in-flight calls finish).
    pub async fn remove_link(&self, component: &str, link_name: &str) -> bool {
        self.links.remove(component, link_name).await.is_some()
    }

    pub async fn link_count(&self) -> usize {
        self.links.len().await
    }

    async fn link(&self, cx: &Option<Context>) -> Result<Arc<Link>, BlobError> {
        let missing = |MissingLink { component, link_name }| BlobError::NoLink { component, link_name };
        self.links.for_call(cx).await.map_err(missing)
    }
}

impl ServedLinks for BlobNatsProvider {
    async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
        self.links.contains(component, link_name).await
    }
}

impl Provider for BlobNatsProvider {
    async fn receive_link_config_as_target(&self, link: LinkConfig<'_>) -> anyhow::Result<()> {
        let LinkConfig { source_id, link_name, config, secrets, .. } = link;
        let secrets = pixelbus_provider_main::secret_strings(secrets);
        let parsed = BlobConfig::from_link(config, &secrets)
            .with_context(|| format!("invalid blobstore-nats link config from {source_id} ({link_name})"))?;
        let uri = parsed.nats.cluster_uri.clone();
        self.add_link(source_id, link_name, parsed)
            .await
            .with_context(|| format!("blobstore-nats link from {source_id} ({link_name}) to {uri} failed"))?;
        info!(component = source_id, link_name, %uri, "blobstore link ready");
        Ok(())
    }

    async fn delete_link_as_target(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        if self.remove_link(info.get_source_id(), info.get_link_name()).await {
            info!(component = info.get_source_id(), link_name = info.get_link_name(), "blobstore link removed");
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        // Dropping the links drops their NATS clients, which closes the connections.
        self.links.drain().await;
        Ok(())
    }
}

impl Handler<Option<Context>> for BlobNatsProvider {
    async fn clear_container(&self, cx: Option<Context>, name: String) -> Reply<()> {
        reply(async { self.link(&cx).await?.clear_container(&name).await }.await)
    }

    async fn container_exists(&self, cx: Option<Context>, name: String) -> Reply<bool> {
        reply(async { self.link(&cx).await?.container_exists(&name).await }.await)
    }

    async fn create_container(&self, cx: Option<Context>, name: String) -> Reply<()> {
        reply(async { self.link(&cx).await?.create_container(&name).await }.await)
    }

    async fn delete_container(&self, cx: Option<Context>, name: String) -> Reply<()> {
        reply(async { self.link(&cx).await?.delete_container(&name).await }.await)
    }

    async fn get_container_info(&self, cx: Option<Context>, name: String) -> Reply<ContainerMetadata> {
        reply(
            async {
                let created_at = self.link(&cx).await?.container_created(&name).await?;
                Ok(ContainerMetadata { created_at })
            }
            .await,
        )
    }

    /// The names are sent as they come from the server: the stream and the status future are
    /// returned at once, and the listing runs as the status future is polled.
    async fn list_container_objects(
        &self,
        cx: Option<Context>,
        name: String,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Reply<(Streamed<Vec<String>>, Status)> {
        let opened = async {
            let link = self.link(&cx).await?;
            let store = link.store(&name).await?;
            Ok((link, store))
        }
        .await;
        let (link, store) = match opened {
            Ok(v) => v,
            Err(e) => return reply(Err(e)),
        };
        let (tx, rx) = mpsc::channel(LIST_AHEAD);
        let what = format!("listing container {name:?}");
        let work = async move {
            let names = link.list_objects(store, &name, offset.unwrap_or(0), limit.unwrap_or(u64::MAX)).await?;
            let mut names = std::pin::pin!(names);
            while let Some(object) = names.next().await {
                tx.send(object?).await.map_err(|_| BlobError::ReceiverGone)?;
            }
            Ok(())
        };
        Ok(Ok((Box::pin(receiver_stream(rx).ready_chunks(LIST_BATCH)), status(what, work))))
    }

    async fn copy_object(&self, cx: Option<Context>, src: ObjectId, dest: ObjectId) -> Reply<()> {
        reply(
            async {
                let link = self.link(&cx).await?;
                link.copy_object((&src.container, &src.object), (&dest.container, &dest.object)).await
            }
            .await,
        )
    }

    async fn delete_object(&self, cx: Option<Context>, id: ObjectId) -> Reply<()> {
        reply(
            async {
                let link = self.link(&cx).await?;
                let store = link.store(&id.container).await?;
                link.delete_object(&store, &id.container, &id.object).await
            }
            .await,
        )
    }

    async fn delete_objects(&self, cx: Option<Context>, container: String, objects: Vec<String>) -> Reply<()> {
        reply(
            async {
                let link = self.link(&cx).await?;
                let store = link.store(&container).await?;
                for object in &objects {
                    link.delete_object(&store, &container, object).await?;
                }
                Ok(())
            }
            .await,
        )
    }

    /// `start` and `end` are inclusive byte offsets (wasi:blobstore); a range past the end of
    /// the object is cut short. The object is checked to exist before returning; its chunks
    /// are then read one at a time as the status future is polled, at most `READ_AHEAD`
    /// waiting in the channel.
    async fn get_container_data(&self, cx: Option<Context>, id: ObjectId, start: u64, end: u64) -> Reply<(Streamed<Bytes>, Status)> {
        let opened = async { self.link(&cx).await?.open_reader(&id.container, &id.object, start, end).await }.await;
        let mut reader = match opened {
            Ok(r) => r,
            Err(e) => return reply(Err(e)),
        };
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let what = format!("reading {}/{}", id.container, id.object);
        let work = async move {
            while let Some(piece) = reader.next().await? {
                tx.send(piece).await.map_err(|_| BlobError::ReceiverGone)?;
            }
            Ok(())
        };
        Ok(Ok((receiver_stream(rx), status(what, work))))
    }

    async fn get_object_info(&self, cx: Option<Context>, id: ObjectId) -> Reply<ObjectMetadata> {
        reply(
            async {
                let (size, created_at) = self.link(&cx).await?.object_meta(&id.container, &id.object).await?;
                Ok(ObjectMetadata { created_at, size })
            }
            .await,
        )
    }

    async fn has_object(&self, cx: Option<Context>, id: ObjectId) -> Reply<bool> {
        reply(async { self.link(&cx).await?.has_object(&id.container, &id.object).await }.await)
    }

    async fn move_object(&self, cx: Option<Context>, src: ObjectId, dest: ObjectId) -> Reply<()> {
        reply(
            async {
                let link = self.link(&cx).await?;
                link.move_object((&src.container, &src.object), (&dest.container, &dest.object)).await
            }
            .await,
        )
    }

    /// The container is checked to exist before returning; the data is written as the status
    /// future is polled, one chunk at a time as it arrives.
    async fn write_container_data(&self, cx: Option<Context>, id: ObjectId, data: Streamed<Bytes>) -> Reply<Status> {
        let opened = async {
            if id.object.is_empty() {
                return Err(BlobError::EmptyObjectName);
            }
            let link = self.link(&cx).await?;
            let store = link.store(&id.container).await?;
            Ok((link, store))
        }
        .await;
        let (link, store) = match opened {
            Ok(v) => v,
            Err(e) => return reply(Err(e)),
        };
        let what = format!("writing {}/{}", id.container, id.object);
        let work = async move {
            link.write_from(&store, &id.container, &id.object, data.map(Ok)).await?;
            Ok(())
        };
        Ok(Ok(status(what, work)))
    }
}
