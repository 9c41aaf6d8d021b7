//! `wasi:blobstore` over NATS JetStream object stores.
//!
//! Components import `wasi:blobstore`; the wasmCloud host carries each call here as
//! `wrpc:blobstore/blobstore@0.2.0`. A container is the object store bucket
//! `<bucket_prefix><container>`; objects are stored in chunks of `chunk_bytes` and streamed in
//! both directions one chunk at a time. See README.md for the link config.

mod config;
mod error;
mod io;
mod provider;
mod store;

pub use config::{BlobConfig, StorageKind, BLOB_KEYS, DEFAULT_CHUNK_BYTES};
pub use error::{BlobError, LinkError};
pub use provider::BlobNatsProvider;


/// The wrpc:blobstore handler trait this provider implements and its types (for tests and
/// embedders).
pub mod handlers {
    pub use wrpc_interface_blobstore::bindings::exports::wrpc::blobstore::blobstore::Handler;
    pub use wrpc_interface_blobstore::bindings::wrpc::blobstore::types::{ContainerMetadata, ObjectId, ObjectMetadata};
}

/// Runs the provider until the host shuts it down.
pub async fn run() -> anyhow::Result<()> {
    pixelbus_provider_main::serve!(BlobNatsProvider::default(), "blobstore-nats-provider", wrpc_interface_blobstore::bindings::serve)
}
