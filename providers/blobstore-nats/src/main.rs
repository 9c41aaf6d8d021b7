//! blobstore-nats capability provider: `wasi:blobstore` over NATS JetStream object stores.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pixelbus_provider_blobstore_nats::run().await
}
