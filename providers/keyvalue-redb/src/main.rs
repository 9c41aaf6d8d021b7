//! keyvalue-redb capability provider: `wasi:keyvalue` over an embedded redb file.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pixelbus_provider_keyvalue_redb::run().await
}
