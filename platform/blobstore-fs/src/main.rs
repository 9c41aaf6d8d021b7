//! The first-party `blobstore-fs` capability provider (crate `wasmcloud-provider-blobstore-fs`), as a
//! binary that `scripts/build-providers` packages into a provider archive (.par.gz).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    wasmcloud_provider_blobstore_fs::run().await
}
