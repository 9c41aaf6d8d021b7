//! The first-party `messaging-nats` capability provider (crate `wasmcloud-provider-messaging-nats`), as a
//! binary that `scripts/build-providers` packages into a provider archive (.par.gz).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    wasmcloud_provider_messaging_nats::run().await
}
