//! `wasi:keyvalue` (store, atomics, batch) over an embedded redb database file, for edge hosts
//! without NATS JetStream.
//!
//! Components import `wasi:keyvalue`; the wasmCloud host carries each call here as
//! `wrpc:keyvalue`. Each link names a database file on the provider's host (`path`); the bucket a
//! component opens (`store.open("pixelbus-jobs")`) is a table in that file, unless the link's
//! `bucket` config names another. Every write is one durable redb transaction. See README.md for
//! the link config.

mod config;
mod db;
mod provider;

pub use config::{valid_bucket, ConfigError, RedbConfig, DEFAULT_MAX_VALUE_BYTES, KNOWN_KEYS};
pub use db::{open_files, KvError};
pub use provider::{KvRedbProvider, LIST_PAGE};


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
    pixelbus_provider_main::serve!(KvRedbProvider::default(), "keyvalue-redb-provider", bindings::serve)
}
