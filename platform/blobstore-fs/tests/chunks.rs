//! patches/wasmcloud-provider-blobstore-fs-chunks.patch: objects are read back in 64 KiB chunks
//! (each chunk is one wRPC frame, one NATS message to the host), not tokio's default 4 KiB, and
//! what is written in chunks is stored whole. The provider is driven in-process, through the
//! handler the wRPC server calls, after taking its link the way the SDK's run loop hands it one
//! (over a connection to a real nats-server).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use futures::{stream, StreamExt as _};
use nkeys::XKey;
use pixelbus_test_nats::NatsServer;
use wasmcloud_provider_blobstore_fs::FsProvider;
use wasmcloud_provider_sdk::provider::receive_link_for_provider;
use wasmcloud_provider_sdk::{Context, InterfaceLinkDefinition, ProviderConnection};
use wrpc_interface_blobstore::bindings::exports::wrpc::blobstore::blobstore::Handler;
use wrpc_interface_blobstore::bindings::wrpc::blobstore::types::ObjectId;

const SOURCE: &str = "pixelbus-test-component";
const PROVIDER: &str = "blobstore-fs";
const CHUNK: usize = 64 * 1024;

fn cx() -> Option<Context> {
    let mut cx = Context::default();
    cx.component = Some(SOURCE.to_string());
    Some(cx)
}

fn object() -> ObjectId {
    ObjectId { container: "originals".to_string(), object: "photo.jpg".to_string() }
}

/// A provider linked to `SOURCE` with `root` as its root, as the host's link put would link it.
async fn linked_provider(nats: &NatsServer, root: &Path) -> anyhow::Result<FsProvider> {
    let client = async_nats::connect(nats.url()).await.context("connecting to nats-server")?;
    let connection = ProviderConnection::new(client, PROVIDER, "pixelbus-test", "pixelbus-test-host".to_string(), HashMap::new(), XKey::new(), XKey::new())
        .map_err(|e| anyhow!("provider connection: {e}"))?;
    let link = InterfaceLinkDefinition {
        source_id: SOURCE.to_string(),
        target: PROVIDER.to_string(),
        name: "default".to_string(),
        wit_namespace: "wasi".to_string(),
        wit_package: "blobstore".to_string(),
        interfaces: vec!["blobstore".to_string()],
        target_config: HashMap::from([("root".to_string(), root.display().to_string())]),
        ..Default::default()
    };
    let provider = FsProvider::default();
    receive_link_for_provider(&provider, &connection, link).await.context("link")?;
    anyhow::ensure!(connection.is_linked(SOURCE, PROVIDER, "wasi", "blobstore", "default").await, "the provider did not take the link");
    Ok(provider)
}

#[tokio::test]
async fn objects_are_written_whole_and_read_in_64_kib_chunks() -> anyhow::Result<()> {
    let root = tempfile::tempdir().context("a temporary root")?;
    let nats = NatsServer::start();
    let provider = linked_provider(&nats, root.path()).await?;
    provider.create_container(cx(), "originals".to_string()).await?.map_err(|e| anyhow!(e))?;

    // A photo-sized object that is not a whole number of chunks.
    let data: Vec<u8> = (0..621 * 1024 + 123).map(|i: usize| (i * 31 % 251) as u8).collect();
    let pieces: Vec<Bytes> = data.chunks(CHUNK).map(Bytes::copy_from_slice).collect();
    let stored = provider
        .write_container_data(cx(), object(), Box::pin(stream::iter(pieces)))
        .await?
        .map_err(|e| anyhow!("write: {e}"))?;
    stored.await.map_err(|e| anyhow!("write: {e}"))?;
    let on_disk = std::fs::read(root.path().join("originals/photo.jpg")).context("the object's file")?;
    assert!(on_disk == data, "the file holds {} bytes, not the {} written", on_disk.len(), data.len());

    let (chunks, io) = provider
        .get_container_data(cx(), object(), 0, u64::MAX)
        .await?
        .map_err(|e| anyhow!("read: {e}"))?;
    let (chunks, io) = tokio::join!(chunks.collect::<Vec<Bytes>>(), io);
    io.map_err(|e| anyhow!("read: {e}"))?;
    assert_eq!(chunks.concat(), data, "the bytes read back differ from the bytes written");
    let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
    // 10 chunks of up to 64 KiB (the unpatched provider sent 156 of 4 KiB).
    assert!(sizes.len() <= data.len().div_ceil(CHUNK), "{} chunks: {sizes:?}", sizes.len());
    Ok(())
}
