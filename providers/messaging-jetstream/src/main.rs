//! messaging-jetstream capability provider.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pixelbus_provider_messaging_jetstream::run().await
}
