//! Jobs/s through messaging-jetstream into the no-op component on a real lattice (the app in
//! `bench/noop.yaml`), vs the raw async-nats JetStream consumer doing the same ack work, on the
//! lattice's own nats-server.
//!
//! A third run splits the cost: the same provider code in-process, handing each message to a
//! no-op `Deliver` instead of the wRPC call to the component (the queue machinery alone).
//!
//! Every side: publish N messages to a work-queue stream (JetStream publish, acks awaited),
//! and the time runs until the stream is empty again, i.e. every message was delivered, handled
//! and acked. Same stream settings, same in-flight limit.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use async_nats::jetstream::{self, consumer::pull, stream};
use futures::{StreamExt as _, TryStreamExt as _};
use pixelbus_provider_messaging_jetstream::handlers::BrokerMessage;
use pixelbus_provider_messaging_jetstream::{Deliver, HandlerConfig, JetStreamProvider};

use crate::stats::median;

/// Stream and subject the provider's link in bench/noop.yaml consumes.
const LATTICE_STREAM: &str = "BENCH_NOOP";
const LATTICE_SUBJECT: &str = "bench.noop.work";
const RAW_STREAM: &str = "BENCH_RAW";
const RAW_SUBJECT: &str = "bench.raw.work";
const IN_PROCESS_STREAM: &str = "BENCH_INPROC";
const IN_PROCESS_SUBJECT: &str = "bench.inproc.work";
/// The link's max_in_flight in bench/noop.yaml; the raw consumer gets the same.
pub const MAX_IN_FLIGHT: usize = 32;

pub struct MessagingRow {
    pub messages: usize,
    pub provider_per_s: f64,
    pub in_process_per_s: f64,
    pub raw_per_s: f64,
}

/// The component's part played by nothing: every message handled at once.
struct NoopDeliver;

impl Deliver for NoopDeliver {
    fn deliver(&self, _msg: BrokerMessage) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        Box::pin(async { Ok(()) })
    }
}

/// messaging-jetstream's consumer in this process, with the link settings of bench/noop.yaml.
async fn in_process_provider(nats_url: &str) -> anyhow::Result<JetStreamProvider> {
    let settings: HashMap<String, String> = [
        ("cluster_uri", nats_url),
        ("stream", IN_PROCESS_STREAM),
        ("subjects", IN_PROCESS_SUBJECT),
        ("retention", "workqueue"),
        ("consumer", "bench-inproc"),
        ("max_deliver", "5"),
        ("timeout_ms", "60000"),
        ("ack_wait_ms", "5000"),
        ("max_in_flight", &MAX_IN_FLIGHT.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = HandlerConfig::from_link(&settings, &HashMap::new()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let provider = JetStreamProvider::default();
    provider.add_handler_link("bench", "default", config, Arc::new(NoopDeliver)).await?;
    Ok(provider)
}

async fn wait_for_stream(js: &jetstream::Context, name: &str) -> anyhow::Result<stream::Stream> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match js.get_stream(name).await {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() > deadline => bail!("stream {name} never appeared (is bench/noop.yaml deployed?): {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Publishes `count` messages and returns messages/s until the stream is drained.
async fn publish_and_drain(js: &jetstream::Context, stream: &mut stream::Stream, subject: &'static str, count: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| async move {
            let ack = js.publish(subject, format!("{{\"n\":{i}}}").into()).await?;
            ack.await.map(drop).map_err(anyhow::Error::from)
        })
        .buffer_unordered(256)
        .try_collect::<()>()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if stream.info().await.context("stream info")?.state.messages == 0 {
            return Ok(count as f64 / start.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            bail!("{subject}: not drained within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The raw consumer: a pull consumer whose messages are acked MAX_IN_FLIGHT at a time.
async fn raw_consumer(js: &jetstream::Context) -> anyhow::Result<(stream::Stream, tokio::task::JoinHandle<()>)> {
    let _ = js.delete_stream(RAW_STREAM).await;
    let stream = js
        .create_stream(stream::Config {
            name: RAW_STREAM.into(),
            subjects: vec![RAW_SUBJECT.into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-raw".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: MAX_IN_FLIGHT as i64,
            ..Default::default()
        })
        .await?;
    let task = tokio::spawn(async move {
        let Ok(messages) = consumer.messages().await else { return };
        messages
            .for_each_concurrent(MAX_IN_FLIGHT, |msg| async move {
                if let Ok(msg) = msg {
                    let _ = msg.ack().await;
                }
            })
            .await;
    });
    Ok((stream, task))
}

pub async fn run(nats_url: &str, quick: bool) -> anyhow::Result<MessagingRow> {
    let nats = async_nats::connect(nats_url).await.with_context(|| format!("connecting to the lattice's NATS at {nats_url}"))?;
    let js = jetstream::new(nats);
    let mut lattice = wait_for_stream(&js, LATTICE_STREAM).await?;
    let (mut raw, raw_task) = raw_consumer(&js).await?;
    let _ = js.delete_stream(IN_PROCESS_STREAM).await;
    let in_process = in_process_provider(nats_url).await?;
    let mut in_process_stream = wait_for_stream(&js, IN_PROCESS_STREAM).await?;
    let (count, reps) = if quick { (500, 2) } else { (5000, 5) };
    eprintln!("    messaging: {count} messages per run, {MAX_IN_FLIGHT} in flight, {reps} reps each");
    // Warm-up: component instances, connections.
    publish_and_drain(&js, &mut lattice, LATTICE_SUBJECT, 200).await?;
    publish_and_drain(&js, &mut raw, RAW_SUBJECT, 200).await?;
    publish_and_drain(&js, &mut in_process_stream, IN_PROCESS_SUBJECT, 200).await?;
    let (mut provider, mut plain, mut inside) = (vec![], vec![], vec![]);
    for _ in 0..reps {
        provider.push(publish_and_drain(&js, &mut lattice, LATTICE_SUBJECT, count).await?);
        plain.push(publish_and_drain(&js, &mut raw, RAW_SUBJECT, count).await?);
        inside.push(publish_and_drain(&js, &mut in_process_stream, IN_PROCESS_SUBJECT, count).await?);
    }
    raw_task.abort();
    in_process.remove_handler_link("bench", "default").await;
    let _ = js.delete_stream(RAW_STREAM).await;
    let _ = js.delete_stream(IN_PROCESS_STREAM).await;
    Ok(MessagingRow {
        messages: count,
        provider_per_s: median(&provider).unwrap_or(f64::NAN),
        in_process_per_s: median(&inside).unwrap_or(f64::NAN),
        raw_per_s: median(&plain).unwrap_or(f64::NAN),
    })
}
