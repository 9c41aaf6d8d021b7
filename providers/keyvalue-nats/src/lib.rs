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
    pixelbus_provider_main::serve!(KvNatsProvider::default(), "keyvalue-nats-provider", bindings::serve)
}
