//! Containers as JetStream object store buckets: one linked component's view of its NATS server.

use std::error::Error as _;

use async_nats::jetstream::context::{GetStreamError, GetStreamErrorKind};
use async_nats::jetstream::object_store::{self, InfoErrorKind, ObjectInfo, ObjectMetadata, ObjectStore};
use async_nats::jetstream::stream::{StorageType, Stream as JsStream};
use async_nats::jetstream::ErrorCode;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::io::AsyncRead;
use tracing::{debug, info};

use crate::config::{BlobConfig, StorageKind};
use crate::error::BlobError;
use crate::io::{byte_range, ChunkReader, CoalescingReader};

/// One link: its settings and its own NATS connection (dropped with it).
pub(crate) struct Link {
    pub(crate) config: BlobConfig,
    pub(crate) js: async_nats::jetstream::Context,
}

fn stream_missing(e: &GetStreamError) -> bool {
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

fn stream_name(bucket: &str) -> String {
    format!("OBJ_{bucket}")
}

/// Seconds since the Unix epoch as the WIT timestamp (0 before it, which JetStream never reports).
fn epoch_seconds(unix_timestamp: i64) -> u64 {
    u64::try_from(unix_timestamp).unwrap_or(0)
}

impl Link {
    /// The bucket behind a container name.
    pub(crate) fn bucket(&self, container: &str) -> Result<String, BlobError> {
        self.config.bucket_for(container).ok_or_else(|| BlobError::InvalidContainer(container.to_string()))
    }

    /// The bucket's stream, or [`BlobError::NoContainer`].
    pub(crate) async fn stream(&self, container: &str) -> Result<JsStream, BlobError> {
        let bucket = self.bucket(container)?;
        match self.js.get_stream(stream_name(&bucket)).await {
            Ok(s) => Ok(s),
            Err(e) if stream_missing(&e) => Err(BlobError::NoContainer(container.to_string())),
            Err(e) => Err(BlobError::nats(format!("looking up container {container:?}"), e)),
        }
    }

    /// The container's object store, or [`BlobError::NoContainer`].
    pub(crate) async fn store(&self, container: &str) -> Result<ObjectStore, BlobError> {
        let bucket = self.bucket(container)?;
        match self.js.get_object_store(&bucket).await {
            Ok(s) => Ok(s),
            Err(e) => {
                let missing = e.source().and_then(|s| s.downcast_ref::<GetStreamError>()).is_some_and(stream_missing);
                if missing {
                    Err(BlobError::NoContainer(container.to_string()))
                } else {
                    Err(BlobError::nats(format!("opening container {container:?}"), e))
                }
            }
        }
    }

    pub(crate) async fn container_exists(&self, container: &str) -> Result<bool, BlobError> {
        match self.stream(container).await {
            Ok(_) => Ok(true),
            Err(BlobError::NoContainer(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the bucket with the link's settings; a container that exists already is fine
    /// (as with blobstore-fs, and so that racing creators both succeed).
    pub(crate) async fn create_container(&self, container: &str) -> Result<(), BlobError> {
        let bucket = self.bucket(container)?;
        if self.container_exists(container).await? {
            return Ok(());
        }
        let config = object_store::Config {
            bucket: bucket.clone(),
            description: Some(format!("pixelbus blobstore container {container}")),
            max_age: self.config.ttl.unwrap_or_default(),
            max_bytes: self.config.max_bytes.unwrap_or(-1),
            storage: match self.config.storage {
                StorageKind::File => StorageType::File,
                StorageKind::Memory => StorageType::Memory,
            },
            num_replicas: self.config.replicas,
            ..Default::default()
        };
        match self.js.create_object_store(config).await {
            Ok(_) => {
                info!(%bucket, "created object store bucket");
                Ok(())
            }
            // Someone else created it meanwhile.
            Err(_) if self.container_exists(container).await.unwrap_or(false) => Ok(()),
            Err(e) => Err(BlobError::nats(format!("creating container {container:?} (bucket {bucket})"), e)),
        }
    }

    pub(crate) async fn delete_container(&self, container: &str) -> Result<(), BlobError> {
        let bucket = self.bucket(container)?;
        match self.js.delete_stream(stream_name(&bucket)).await {
            Ok(_) => Ok(()),
            Err(e) if stream_missing(&e) => Err(BlobError::NoContainer(container.to_string())),
            Err(e) => Err(BlobError::nats(format!("deleting container {container:?}"), e)),
        }
    }

    /// Seconds since the epoch at which the bucket was created.
    pub(crate) async fn container_created(&self, container: &str) -> Result<u64, BlobError> {
        let stream = self.stream(container).await?;
        Ok(epoch_seconds(stream.cached_info().created.unix_timestamp()))
    }

    /// Removes every object: purging the bucket's stream drops all chunks and metadata at once
    /// and leaves no delete markers behind.
    pub(crate) async fn clear_container(&self, container: &str) -> Result<(), BlobError> {
        let stream = self.stream(container).await?;
        let purged = stream.purge().await.map_err(|e| BlobError::nats(format!("clearing container {container:?}"), e))?;
        debug!(container, purged = purged.purged, "cleared container");
        Ok(())
    }

    /// The info of a live object ([`BlobError::NoObject`] if missing or deleted).
    pub(crate) async fn object_info(&self, store: &ObjectStore, container: &str, object: &str) -> Result<ObjectInfo, BlobError> {
        let missing = || BlobError::NoObject { container: container.to_string(), object: object.to_string() };
        if object.is_empty() {
            return Err(BlobError::EmptyObjectName);
        }
        match store.info(object).await {
            Ok(info) if info.deleted => Err(missing()),
            Ok(info) => Ok(info),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Err(missing()),
            Err(e) => Err(BlobError::nats(format!("looking up {container}/{object}"), e)),
        }
    }

    /// [`Link::object_info`] of an object whose data can be read here.
    async fn readable_info(&self, store: &ObjectStore, container: &str, object: &str) -> Result<ObjectInfo, BlobError> {
        let info = self.object_info(store, container, object).await?;
        if info.options.as_ref().is_some_and(|o| o.link.is_some()) {
            return Err(BlobError::IsLink { container: container.to_string(), object: object.to_string() });
        }
        Ok(info)
    }

    pub(crate) async fn has_object(&self, container: &str, object: &str) -> Result<bool, BlobError> {
        let store = self.store(container).await?;
        match self.object_info(&store, container, object).await {
            Ok(_) => Ok(true),
            Err(BlobError::NoObject { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Size and time of writing (object stores record when an object was put, which is when
    /// its current content was created).
    pub(crate) async fn object_meta(&self, container: &str, object: &str) -> Result<(u64, u64), BlobError> {
        let store = self.store(container).await?;
        let info = self.object_info(&store, container, object).await?;
        Ok((info.size as u64, info.modified.map(|t| epoch_seconds(t.unix_timestamp())).unwrap_or(0)))
    }

    /// Deletes an object; one that does not exist is not an error (wasi:blobstore).
    pub(crate) async fn delete_object(&self, store: &ObjectStore, container: &str, object: &str) -> Result<(), BlobError> {
        match self.object_info(store, container, object).await {
            Ok(_) => {}
            Err(BlobError::NoObject { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        match store.delete(object).await {
            Ok(()) => Ok(()),
            // Deleted by someone else in between.
            Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::nats(format!("deleting {container}/{object}"), e)),
        }
    }

    /// Names of the live objects, in the order they were last written, from `offset`, at most
    /// `limit`. The names are streamed from the server, never collected.
    pub(crate) async fn list_objects(
        &self,
        store: ObjectStore,
        container: &str,
        offset: u64,
        limit: u64,
    ) -> Result<impl Stream<Item = Result<String, BlobError>> + Send, BlobError> {
        let list = store.list().await.map_err(|e| BlobError::nats(format!("listing container {container:?}"), e))?;
        let container = container.to_string();
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(list.skip(offset).take(limit).map(move |item| {
            item.map(|info| info.name).map_err(|e| BlobError::nats(format!("listing container {container:?}"), e))
        }))
    }

    /// A reader of `start..=end` of an object, checked to exist now; reading happens as it is
    /// polled.
    pub(crate) async fn open_reader(&self, container: &str, object: &str, start: u64, end: u64) -> Result<ChunkReader, BlobError> {
        let stream = self.stream(container).await?;
        let store = self.store(container).await?;
        let info = self.readable_info(&store, container, object).await?;
        let (lo, hi) = byte_range(start, end, info.size as u64)?;
        Ok(ChunkReader::new(stream, container, &info, lo, hi))
    }

    /// Writes an object from `data`, chunk by chunk as it arrives.
    pub(crate) async fn put(
        &self,
        store: &ObjectStore,
        container: &str,
        meta: ObjectMetadata,
        data: &mut (impl AsyncRead + Unpin),
    ) -> Result<ObjectInfo, BlobError> {
        let object = meta.name.clone();
        let info = store.put(meta, data).await.map_err(|e| BlobError::nats(format!("writing {container}/{object}"), e))?;
        debug!(container, object, size = info.size, chunks = info.chunks, "object written");
        Ok(info)
    }

    /// Writes an object from a stream of byte pieces.
    pub(crate) async fn write_from<S>(&self, store: &ObjectStore, container: &str, object: &str, pieces: S) -> Result<ObjectInfo, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        let meta = ObjectMetadata { name: object.to_string(), chunk_size: Some(self.config.chunk_bytes), ..Default::default() };
        let mut reader = CoalescingReader::new(pieces, self.config.chunk_bytes);
        self.put(store, container, meta, &mut reader).await
    }

    /// Copies an object by streaming its chunks into a new object: within a container or
    /// across, overwriting the destination. The destination container must exist.
    pub(crate) async fn copy_object(&self, src: (&str, &str), dest: (&str, &str)) -> Result<(), BlobError> {
        let (src_container, src_object) = src;
        let (dest_container, dest_object) = dest;
        if dest_object.is_empty() {
            return Err(BlobError::EmptyObjectName);
        }
        let dest_store = self.store(dest_container).await?;
        let src_stream = self.stream(src_container).await?;
        let src_store = self.store(src_container).await?;
        let info = self.readable_info(&src_store, src_container, src_object).await?;
        if self.bucket(src_container)? == self.bucket(dest_container)? && src_object == dest_object {
            return Ok(());
        }
        let size = info.size as u64;
        let reader = ChunkReader::new(src_stream, src_container, &info, 0, size);
        let meta = ObjectMetadata {
            name: dest_object.to_string(),
            description: info.description.clone(),
            chunk_size: Some(self.config.chunk_bytes),
            metadata: info.metadata.clone(),
            headers: info.headers.clone(),
        };
        let mut data = CoalescingReader::new(reader.into_stream(), self.config.chunk_bytes);
        let written = self.put(&dest_store, dest_container, meta, &mut data).await?;
        if written.size as u64 != size {
            return Err(BlobError::Changed {
                container: src_container.to_string(),
                object: src_object.to_string(),
                why: format!("copied {} of {size} bytes", written.size),
            });
        }
        Ok(())
    }

    /// Copy, then delete the source (unless source and destination are the same object).
    pub(crate) async fn move_object(&self, src: (&str, &str), dest: (&str, &str)) -> Result<(), BlobError> {
        self.copy_object(src, dest).await?;
        if self.bucket(src.0)? == self.bucket(dest.0)? && src.1 == dest.1 {
            return Ok(());
        }
        let store = self.store(src.0).await?;
        self.delete_object(&store, src.0, src.1).await
    }
}
