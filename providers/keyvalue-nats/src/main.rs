//! keyvalue-nats capability provider: `wasi:keyvalue` over NATS JetStream KV.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pixelbus_provider_keyvalue_nats::run().await
}
