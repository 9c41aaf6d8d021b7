//! The first-party `http-server` capability provider (crate `wasmcloud-provider-http-server`), as a
//! binary that `scripts/build-providers` packages into a provider archive (.par.gz).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    wasmcloud_provider_http_server::run().await
}
