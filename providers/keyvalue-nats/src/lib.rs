//! `wasi:keyvalue` (store, atomics, batch) over NATS JetStream KV buckets.
//!
//! Components import `wasi:keyvalue`; the wasmCloud host carries each call here as
//! `wrpc:keyvalue`. The bucket a component opens (`store.open("pixelbus-jobs")`) is the
//! JetStream KV bucket used, unless the link's `bucket` config names another; a missing bucket
//! is created with the link's history/TTL settings. See README.md for the link config.

mod config;
mod provider;

pub use config::{KvConfig, StorageKind};
pub use provider::KvNatsProvider;

use anyhow::Context as _;
use wasmcloud_provider_sdk::{get_connection, run_provider, serve_provider_exports};

/// The wrpc:keyvalue handler traits this provider implements (for tests and embedders).
pub mod handlers {
    pub use crate::bindings::exports::wrpc::keyvalue::{atomics, batch, store};
}

pub(crate) mod bindings {
    wit_bindgen_wrpc::generate!({
        world: "provider",
        generate_all,
        additional_derives: [PartialEq],
    });
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
    let provider = KvNatsProvider::default();
    let shutdown = run_provider(provider.clone(), "keyvalue-nats-provider")
        .await
        .context("failed to start the provider")?;
    let connection = get_connection();
    let wrpc = connection
        .get_wrpc_client(connection.provider_key())
        .await
        .context("failed to create the wRPC client")?;
    serve_provider_exports(&wrpc, provider, shutdown, bindings::serve)
        .await
        .context("provider exports stopped")
}
