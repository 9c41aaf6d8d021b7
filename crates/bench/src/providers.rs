//! Our storage providers vs the raw NATS client doing the same work, on one real nats-server
//! (JetStream, file storage) started for the run. The providers are driven in-process through
//! the handler traits the host's wRPC calls land on, so the figure is the provider's own cost
//! (request mapping, validation, streaming) on top of the client; the wire and host are the
//! pipeline benchmark's business.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use pixelbus_provider_blobstore_nats::handlers::{Handler as _, ObjectId};
use pixelbus_provider_blobstore_nats::{BlobConfig, BlobNatsProvider};
use pixelbus_provider_keyvalue_nats::handlers::store::Handler as _;
use pixelbus_provider_keyvalue_nats::{KvConfig, KvNatsProvider};
use pixelbus_test_nats::NatsServer;
use tokio::io::AsyncReadExt as _;
use wasmcloud_provider_sdk::Context;

use crate::stats::median;

const COMPONENT: &str = "bench";
/// Requests in flight at once, as from that many component instances.
const CONCURRENCY: usize = 16;
/// The piece size the provider's write stream arrives in.
const PIECE: usize = 64 * 1024;

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

/// Throughput of one operation kind: provider and raw client, medians over the repetitions.
pub struct ThroughputRow {
    pub what: String,
    pub unit: &'static str,
    pub provider: f64,
    pub raw: f64,
}

fn link(server: &NatsServer) -> HashMap<String, String> {
    HashMap::from([("cluster_uri".to_string(), server.url())])
}

fn per_second(count: f64, start: Instant) -> f64 {
    count / start.elapsed().as_secs_f64()
}

/// KV: `ops` sets then `ops` gets of 256-byte values, CONCURRENCY at a time.
async fn keyvalue(server: &NatsServer, ops: usize, reps: usize) -> anyhow::Result<Vec<ThroughputRow>> {
    let provider = KvNatsProvider::default();
    let config = KvConfig::from_link(&link(server), &HashMap::new()).map_err(|e| anyhow!("{e}"))?;
    provider.add_link(COMPONENT, "default", config).await.map_err(|e| anyhow!("{e}"))?;
    let bucket = "bench-kv";
    // The provider creates the bucket on first use; the raw client then uses the same bucket.
    provider.set(cx(), bucket.into(), "warm".into(), Bytes::from_static(b"up")).await?.map_err(|e| anyhow!("{e:?}"))?;
    let nats = async_nats::connect(server.url()).await?;
    let kv = async_nats::jetstream::new(nats).get_key_value(bucket).await?;
    let value = Bytes::from(vec![7u8; 256]);

    let (mut set_p, mut set_r, mut get_p, mut get_r) = (vec![], vec![], vec![], vec![]);
    for rep in 0..reps {
        let keys: Vec<String> = (0..ops).map(|i| format!("p{rep}-{i}")).collect();
        let start = Instant::now();
        futures::stream::iter(keys.iter().cloned())
            .map(|key| {
                let (provider, value) = (&provider, value.clone());
                async move { provider.set(cx(), bucket.into(), key, value).await?.map_err(|e| anyhow!("{e:?}")) }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        set_p.push(per_second(ops as f64, start));
        let start = Instant::now();
        futures::stream::iter(keys.iter().cloned())
            .map(|key| {
                let provider = &provider;
                async move {
                    let got = provider.get(cx(), bucket.into(), key).await?.map_err(|e| anyhow!("{e:?}"))?;
                    got.map(drop).context("a set key is missing")
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        get_p.push(per_second(ops as f64, start));

        let keys: Vec<String> = (0..ops).map(|i| format!("r{rep}-{i}")).collect();
        let start = Instant::now();
        futures::stream::iter(keys.iter().cloned())
            .map(|key| {
                let (kv, value) = (&kv, value.clone());
                async move { kv.put(key, value).await.map(drop).map_err(anyhow::Error::from) }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        set_r.push(per_second(ops as f64, start));
        let start = Instant::now();
        futures::stream::iter(keys.iter().cloned())
            .map(|key| {
                let kv = &kv;
                async move { kv.get(key).await?.map(drop).context("a put key is missing") }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        get_r.push(per_second(ops as f64, start));
    }
    let row = |what: &str, p: &[f64], r: &[f64]| ThroughputRow {
        what: what.to_string(),
        unit: "ops/s",
        provider: median(p).unwrap_or(f64::NAN),
        raw: median(r).unwrap_or(f64::NAN),
    };
    Ok(vec![row("keyvalue-nats set (256 B)", &set_p, &set_r), row("keyvalue-nats get (256 B)", &get_p, &get_r)])
}

/// Blobs: `count` objects of `size` bytes written then read back, 4 at a time.
async fn blobstore(server: &NatsServer, count: usize, size: usize, reps: usize) -> anyhow::Result<Vec<ThroughputRow>> {
    let provider = BlobNatsProvider::default();
    let config = BlobConfig::from_link(&link(server), &HashMap::new()).map_err(|e| anyhow!("{e}"))?;
    provider.add_link(COMPONENT, "default", config).await.map_err(|e| anyhow!("{e}"))?;
    let container = "bench-blobs";
    provider.create_container(cx(), container.into()).await?.map_err(|e| anyhow!("{e}"))?;
    let nats = async_nats::connect(server.url()).await?;
    let store = async_nats::jetstream::new(nats).get_object_store(container).await?;
    let data = Bytes::from(crate::pattern(size));
    let megabytes = (count * size) as f64 / 1e6;
    let id = |object: &str| ObjectId { container: container.into(), object: object.into() };
    const PARALLEL: usize = 4;

    let (mut put_p, mut put_r, mut get_p, mut get_r) = (vec![], vec![], vec![], vec![]);
    for rep in 0..reps {
        let names: Vec<String> = (0..count).map(|i| format!("p{rep}-{i}")).collect();
        let start = Instant::now();
        futures::stream::iter(names.iter())
            .map(|name| {
                let pieces: Vec<Bytes> = (0..size).step_by(PIECE).map(|at| data.slice(at..(at + PIECE).min(size))).collect();
                let (provider, id) = (&provider, id(name));
                async move {
                    let status = provider
                        .write_container_data(cx(), id, Box::pin(futures::stream::iter(pieces)))
                        .await?
                        .map_err(|e| anyhow!("{e}"))?;
                    status.await.map_err(|e| anyhow!("{e}"))
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<()>()
            .await?;
        put_p.push(per_second(megabytes, start));
        let start = Instant::now();
        futures::stream::iter(names.iter())
            .map(|name| {
                let (provider, id) = (&provider, id(name));
                async move {
                    let (stream, status) = provider.get_container_data(cx(), id, 0, u64::MAX).await?.map_err(|e| anyhow!("{e}"))?;
                    let (len, status) = tokio::join!(stream.fold(0usize, |n, b| async move { n + b.len() }), status);
                    status.map_err(|e| anyhow!("{e}"))?;
                    anyhow::ensure!(len == size, "read {len} of {size} bytes");
                    Ok(())
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<()>()
            .await?;
        get_p.push(per_second(megabytes, start));

        let names: Vec<String> = (0..count).map(|i| format!("r{rep}-{i}")).collect();
        let start = Instant::now();
        futures::stream::iter(names.iter())
            .map(|name| {
                let (store, data) = (&store, data.clone());
                async move {
                    let mut reader: &[u8] = &data;
                    store.put(name.as_str(), &mut reader).await.map(drop).map_err(anyhow::Error::from)
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<()>()
            .await?;
        put_r.push(per_second(megabytes, start));
        let start = Instant::now();
        futures::stream::iter(names.iter())
            .map(|name| {
                let store = &store;
                async move {
                    let mut object = store.get(name.as_str()).await?;
                    let mut read = Vec::with_capacity(size);
                    object.read_to_end(&mut read).await?;
                    anyhow::ensure!(read.len() == size, "read {} of {size} bytes", read.len());
                    Ok(())
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<()>()
            .await?;
        get_r.push(per_second(megabytes, start));
    }
    let mib = size / (1024 * 1024);
    let row = |what: String, p: &[f64], r: &[f64]| ThroughputRow {
        what,
        unit: "MB/s",
        provider: median(p).unwrap_or(f64::NAN),
        raw: median(r).unwrap_or(f64::NAN),
    };
    Ok(vec![
        row(format!("blobstore-nats write ({mib} MiB objects)"), &put_p, &put_r),
        row(format!("blobstore-nats read ({mib} MiB objects)"), &get_p, &get_r),
    ])
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<ThroughputRow>> {
    let server = NatsServer::start();
    let (ops, blobs, reps) = if quick { (500, 4, 2) } else { (4000, 16, 5) };
    eprintln!("    keyvalue: {ops} sets + {ops} gets, {CONCURRENCY} in flight, {reps} reps each");
    let mut rows = keyvalue(&server, ops, reps).await?;
    eprintln!("    blobstore: {blobs} x 4 MiB written and read, 4 in flight, {reps} reps each");
    rows.extend(blobstore(&server, blobs, 4 * 1024 * 1024, reps).await?);
    Ok(rows)
}
