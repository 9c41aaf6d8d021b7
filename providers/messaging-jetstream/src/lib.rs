//! `wasmcloud:messaging` over NATS JetStream, for work that must not be lost.
//!
//! - Handler links (provider → component) consume a stream through a durable pull consumer and
//!   call the component's `handle-message` for each message, at most `max_in_flight` at once.
//!   `Ok` acks the message; `Err` or a timeout naks it with a backoff; after `max_deliver`
//!   deliveries it is published to the `dead_letter_subject` with the error in headers, and
//!   removed from its stream. Unacked messages (a host that died mid-job) come back after the ack wait, to
//!   whichever instance pulls next.
//! - Consumer links (component → provider) publish to JetStream and return `Ok` only once the
//!   server stored the message.
//!
//! See README.md for the link config.

mod config;
mod provider;

pub use config::{HandlerConfig, PublishConfig, Retention, Storage, StreamSpec};
pub use provider::{
    Deliver, JetStreamProvider, DEAD_DELIVERIES, DEAD_ERROR, DEAD_SEQUENCE, DEAD_STREAM, DEAD_SUBJECT,
};


/// The message type and the consumer handler trait (for tests and embedders).
pub mod handlers {
    pub use crate::bindings::exports::wasmcloud::messaging::consumer;
    pub use crate::bindings::wasmcloud::messaging::types::BrokerMessage;
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
    pixelbus_provider_main::serve!(JetStreamProvider::default(), "messaging-jetstream-provider", bindings::serve)
}
