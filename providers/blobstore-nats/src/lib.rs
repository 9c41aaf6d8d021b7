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

use anyhow::Context as _;
use wasmcloud_provider_sdk::{get_connection, run_provider, serve_provider_exports};

/// The wrpc:blobstore handler trait this provider implements and its types (for tests and
/// embedders).
pub mod handlers {
    pub use wrpc_interface_blobstore::bindings::exports::wrpc::blobstore::blobstore::Handler;
    pub use wrpc_interface_blobstore::bindings::wrpc::blobstore::types::{ContainerMetadata, ObjectId, ObjectMetadata};
}

/// Runs the provider until the host shuts it down.
pub async fn run() -> anyhow::Result<()> {
    wasmcloud_provider_sdk::tracing_subscriber::fmt()
        .with_env_filter(
            wasmcloud_provider_sdk::tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let provider = BlobNatsProvider::default();
    let shutdown = run_provider(provider.clone(), "blobstore-nats-provider")
        .await
        .context("failed to start the provider")?;
    let connection = get_connection();
    let wrpc = connection
        .get_wrpc_client(connection.provider_key())
        .await
        .context("failed to create the wRPC client")?;
    serve_provider_exports(&wrpc, provider, shutdown, wrpc_interface_blobstore::bindings::serve)
        .await
        .context("provider exports stopped")
}
