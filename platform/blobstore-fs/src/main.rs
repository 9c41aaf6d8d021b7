//! The first-party `blobstore-fs` capability provider (crate `wasmcloud-provider-blobstore-fs`), as a
//! binary that `scripts/build` packages into a provider archive (.par.gz).
//!
//! Served through `pixelbus-provider-main` rather than the crate's own `run()`, so it gets the
//! same link catch-up as our providers: a link the host published while the provider was
//! starting is taken over from the lattice instead of being lost (see that crate's `catch_up`).

use wasmcloud_provider_blobstore_fs::FsProvider;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pixelbus_provider_main::serve_tracked!(FsProvider::default(), "blobstore-fs-provider", wrpc_interface_blobstore::bindings::serve)
}
