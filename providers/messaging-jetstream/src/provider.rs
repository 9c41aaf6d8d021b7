//! The provider: per-link JetStream consumers feeding components, and `consumer.publish`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, stream};
use futures::StreamExt as _;
use tokio::sync::{watch, RwLock, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};
use wasmcloud_provider_sdk::{Context, LinkConfig, LinkDeleteInfo, Provider};

use crate::bindings::exports::wasmcloud::messaging::consumer;
use crate::bindings::wasmcloud::messaging::types::BrokerMessage;
use crate::config::{HandlerConfig, PublishConfig, Retention, Storage, StreamSpec};

/// How long one pull request waits for messages before the loop asks again.
const PULL_EXPIRES: Duration = Duration::from_secs(2);
/// Pause after a failed pull (the server restarting, say) before pulling again.
const PULL_RETRY: Duration = Duration::from_millis(500);
/// Longest error text put in a dead letter's header.
const MAX_ERROR_HEADER: usize = 1024;

/// Headers of a dead letter.
pub const DEAD_ERROR: &str = "Dead-Letter-Error";
pub const DEAD_SUBJECT: &str = "Dead-Letter-Subject";
pub const DEAD_STREAM: &str = "Dead-Letter-Stream";
pub const DEAD_SEQUENCE: &str = "Dead-Letter-Sequence";
pub const DEAD_DELIVERIES: &str = "Dead-Letter-Deliveries";

/// Hands one message to the linked component; `Err` is the component's error (or why it could
/// not be reached). Under a host this is a wRPC call; tests pass their own.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(&self, msg: BrokerMessage) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}

/// The real thing: `wasmcloud:messaging/handler.handle-message` on the component, over wRPC.
struct WrpcDeliver {
    wrpc: Arc<wasmcloud_provider_sdk::provider::WrpcClient>,
}

impl Deliver for WrpcDeliver {
    fn deliver(&self, msg: BrokerMessage) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let wrpc = Arc::clone(&self.wrpc);
        Box::pin(async move {
            match crate::bindings::wasmcloud::messaging::handler::handle_message(wrpc.as_ref(), None, &msg).await {
                Ok(result) => result,
                Err(e) => Err(format!("could not invoke the component: {e:#}")),
            }
        })
    }
}

/// A running handler link: its pull loop and the means to stop it.
struct HandlerLink {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Dropped without [`stop_handler`] (the provider itself dropped): stop at once, abandoning
/// deliveries in flight; JetStream redelivers them after the ack wait.
impl Drop for HandlerLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A consumer link: the component publishes through this connection.
struct PublishLink {
    client: async_nats::Client,
    js: jetstream::Context,
}

/// Links are keyed by (component id, link name).
type LinkKey = (String, String);

#[derive(Clone, Default)]
pub struct JetStreamProvider {
    handlers: Arc<RwLock<HashMap<LinkKey, HandlerLink>>>,
    publishers: Arc<RwLock<HashMap<LinkKey, Arc<PublishLink>>>>,
    /// Pull loops and deliveries running now (tests check nothing outlives its link).
    running: Arc<AtomicUsize>,
}

/// Counts a running task for as long as it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(counter: &Arc<AtomicUsize>) -> Running {
        counter.fetch_add(1, Ordering::SeqCst);
        Running(Arc::clone(counter))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn stream_config(spec: &StreamSpec) -> stream::Config {
    stream::Config {
        name: spec.name.clone(),
        subjects: spec.subjects.clone(),
        retention: match spec.retention {
            Retention::Limits => stream::RetentionPolicy::Limits,
            Retention::WorkQueue => stream::RetentionPolicy::WorkQueue,
            Retention::Interest => stream::RetentionPolicy::Interest,
        },
        storage: match spec.storage {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        },
        max_age: spec.max_age.unwrap_or_default(),
        sources: (!spec.sources.is_empty()).then(|| {
            spec.sources
                .iter()
                .map(|source| stream::Source {
                    name: source.name.clone(),
                    external: source.domain.as_ref().map(|domain| stream::External {
                        api_prefix: format!("$JS.{domain}.API"),
                        delivery_prefix: None,
                    }),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

/// The stream named by a link, created from the link's settings when missing.
async fn ensure_stream(js: &jetstream::Context, spec: &StreamSpec) -> anyhow::Result<stream::Stream> {
    if let Ok(existing) = js.get_stream(&spec.name).await {
        let captured = &existing.cached_info().config.subjects;
        if let Some(missing) = spec.subjects.iter().find(|s| !captured.contains(s)) {
            warn!(stream = %spec.name, subject = %missing, "the existing stream does not list this subject; left as it is");
        }
        return Ok(existing);
    }
    anyhow::ensure!(
        !spec.subjects.is_empty() || !spec.sources.is_empty(),
        "stream {} does not exist, and the link names no `subjects` or `sources` to create it with",
        spec.name
    );
    match js.create_stream(stream_config(spec)).await {
        Ok(created) => {
            info!(stream = %spec.name, subjects = ?spec.subjects, sources = ?spec.sources, "created stream");
            Ok(created)
        }
        // Another provider instance may have created it meanwhile.
        Err(e) => js.get_stream(&spec.name).await.with_context(|| format!("could not create stream {}: {e}", spec.name)),
    }
}

/// Header values may not hold line breaks; long errors are cut.
fn header_value(text: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match flat.char_indices().nth(MAX_ERROR_HEADER) {
        Some((cut, _)) => flat[..cut].to_string(),
        None => flat,
    }
}

/// Everything a handler link's pull loop needs.
struct Worker {
    config: HandlerConfig,
    js: jetstream::Context,
    client: async_nats::Client,
    deliver: Arc<dyn Deliver>,
    running: Arc<AtomicUsize>,
}

impl Worker {
    /// Pulls as many messages as there are free delivery slots, hands each to the component,
    /// and repeats until told to stop; then waits for deliveries in flight (each bounded by the
    /// timeout) so none is cut off half way.
    async fn run(self: Arc<Self>, consumer: jetstream::consumer::Consumer<pull::Config>, mut stop: watch::Receiver<bool>) {
        let _running = Running::new(&self.running);
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight));
        let mut deliveries = tokio::task::JoinSet::new();
        'pulling: loop {
            let first = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = stop.changed() => break,
            };
            let mut permits = vec![first];
            while let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
                permits.push(p);
            }
            let batch = consumer.batch().max_messages(permits.len()).expires(PULL_EXPIRES).messages().await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    debug!(error = %e, stream = %self.config.stream.name, "pull failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(PULL_RETRY) => continue,
                        _ = stop.changed() => break,
                    }
                }
            };
            loop {
                let next = tokio::select! {
                    next = batch.next() => next,
                    _ = stop.changed() => break 'pulling,
                };
                match next {
                    None => break,
                    Some(Ok(msg)) => {
                        let Some(permit) = permits.pop() else { break };
                        let worker = Arc::clone(&self);
                        deliveries.spawn(async move {
                            let _running = Running::new(&worker.running);
                            worker.handle(msg).await;
                            drop(permit);
                        });
                    }
                    Some(Err(e)) => {
                        debug!(error = %e, "pull ended with an error");
                        break;
                    }
                }
            }
            // Reap finished deliveries so the set does not grow.
            while deliveries.try_join_next().is_some() {}
        }
        let grace = self.config.timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, async { while deliveries.join_next().await.is_some() {} }).await.is_err() {
            warn!("deliveries still running at link removal were abandoned; JetStream will redeliver them");
        }
    }

    /// One delivery: ack on success, nak with backoff on failure, dead-letter when exhausted.
    async fn handle(&self, msg: jetstream::Message) {
        let (delivered, sequence) = match msg.info() {
            Ok(info) => (u32::try_from(info.delivered).unwrap_or(u32::MAX), info.stream_sequence),
            Err(e) => {
                warn!(error = %e, "message without JetStream metadata; treating it as a first delivery");
                (1, 0)
            }
        };
        let max = self.config.max_deliver;
        if delivered > max {
            // Earlier deliveries ended without an answer: their handler timed out, or its host died.
            let why = format!("no result after {} deliveries (the handler timed out or its host stopped)", delivered - 1);
            self.dead_letter(&msg, sequence, delivered, &why).await;
            return;
        }
        let broker = BrokerMessage { subject: msg.subject.to_string(), body: msg.payload.clone(), reply_to: None };
        let outcome = match tokio::time::timeout(self.config.timeout, self.with_progress(&msg, self.deliver.deliver(broker))).await {
            Ok(result) => result,
            Err(_) => Err(format!("the handler did not answer within {} ms", self.config.timeout.as_millis())),
        };
        match outcome {
            Ok(()) => {
                if let Err(e) = msg.ack().await {
                    warn!(error = %e, sequence, "ack failed; the message will be redelivered");
                }
            }
            Err(why) if delivered >= max => self.dead_letter(&msg, sequence, delivered, &why).await,
            Err(why) => {
                let delay = self.config.backoff_after(delivered);
                warn!(sequence, delivered, max, delay_ms = delay.as_millis() as u64, error = %why, "delivery failed; will retry");
                if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                    warn!(error = %e, sequence, "nak failed; the message will be redelivered after the ack wait");
                }
            }
        }
    }

    /// Runs a delivery, telling JetStream every so often that it is in progress: a long job
    /// is not redelivered meanwhile, yet a job whose host died comes back within one ack wait.
    async fn with_progress(&self, msg: &jetstream::Message, delivery: impl Future<Output = Result<(), String>>) -> Result<(), String> {
        let mut delivery = std::pin::pin!(delivery);
        let mut ticks = tokio::time::interval(self.config.progress_interval());
        ticks.tick().await;
        loop {
            tokio::select! {
                result = &mut delivery => return result,
                _ = ticks.tick() => {
                    if let Err(e) = msg.ack_with(AckKind::Progress).await {
                        debug!(error = %e, "progress report failed");
                    }
                }
            }
        }
    }

    /// Moves an exhausted message to the dead-letter subject (stored if a stream captures it),
    /// then acks it: "moved" means gone from its stream (a `Term` would leave it in a
    /// work-queue stream for good). If the dead letter cannot be published, the message stays in its
    /// stream for another try: nothing is dropped on the floor.
    async fn dead_letter(&self, msg: &jetstream::Message, sequence: u64, delivered: u32, why: &str) {
        let Some(subject) = &self.config.dead_letter_subject else {
            error!(sequence, delivered, error = %why, "giving up on a message (no dead_letter_subject configured)");
            if let Err(e) = msg.ack().await {
                warn!(error = %e, sequence, "ack of a dropped message failed");
            }
            return;
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(DEAD_ERROR, header_value(why).as_str());
        headers.insert(DEAD_SUBJECT, msg.subject.as_str());
        headers.insert(DEAD_STREAM, self.config.stream.name.as_str());
        headers.insert(DEAD_SEQUENCE, sequence.to_string().as_str());
        headers.insert(DEAD_DELIVERIES, delivered.to_string().as_str());
        // Stored when a stream captures the subject; otherwise published for whoever listens
        // (a JetStream publish there would wait out its ack timeout whenever anyone subscribes).
        let published = if self.js.stream_by_subject(subject.clone()).await.is_ok() {
            match self.js.publish_with_headers(subject.clone(), headers, msg.payload.clone()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        } else {
            match self.client.publish_with_headers(subject.clone(), headers, msg.payload.clone()).await {
                Ok(()) => self.client.flush().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        match published {
            Ok(()) => {
                error!(sequence, delivered, %subject, error = %why, "message moved to the dead-letter subject");
                if let Err(e) = msg.ack().await {
                    warn!(error = %e, sequence, "ack failed; the message may be dead-lettered twice");
                }
            }
            Err(e) => {
                warn!(error = %e, sequence, "could not publish the dead letter; keeping the message");
                let _ = msg.ack_with(AckKind::Nak(Some(self.config.backoff_after(delivered)))).await;
            }
        }
    }
}

impl JetStreamProvider {
    /// Starts consuming for a handler link (tests call this directly with their own `deliver`).
    pub async fn add_handler_link(
        &self,
        component: &str,
        link_name: &str,
        config: HandlerConfig,
        deliver: Arc<dyn Deliver>,
    ) -> anyhow::Result<()> {
        let client = config
            .nats
            .connect(&format!("messaging-jetstream:{component}"))
            .await
            .with_context(|| format!("failed to connect to {}", config.nats.cluster_uri))?;
        let js = config.nats.jetstream(client.clone());
        let stream = ensure_stream(&js, &config.stream).await?;
        // Create-or-update: a changed timeout or filter in the link applies to the durable.
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(config.consumer.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                // Deliveries are counted here, not by the server: a message past max_deliver is
                // dead-lettered by the next provider that sees it, so none vanishes silently.
                max_deliver: -1,
                filter_subject: config.filter_subject.clone().unwrap_or_default(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("could not create consumer {} on stream {}", config.consumer, config.stream.name))?;
        let (stop, stopped) = watch::channel(false);
        let worker = Arc::new(Worker { config, js, client, deliver, running: Arc::clone(&self.running) });
        let task = tokio::spawn(worker.run(consumer, stopped));
        let previous = self.handlers.write().await.insert((component.to_string(), link_name.to_string()), HandlerLink { stop, task });
        if let Some(previous) = previous {
            stop_handler(previous).await;
        }
        Ok(())
    }

    /// Stops a handler link's consumer; deliveries in flight finish first.
    pub async fn remove_handler_link(&self, component: &str, link_name: &str) -> bool {
        let removed = self.handlers.write().await.remove(&(component.to_string(), link_name.to_string()));
        match removed {
            Some(link) => {
                stop_handler(link).await;
                true
            }
            None => false,
        }
    }

    pub async fn add_publish_link(&self, component: &str, link_name: &str, config: PublishConfig) -> anyhow::Result<()> {
        let client = config
            .nats
            .connect(&format!("messaging-jetstream:{component}"))
            .await
            .with_context(|| format!("failed to connect to {}", config.nats.cluster_uri))?;
        let js = config.nats.jetstream(client.clone());
        if let Some(spec) = &config.stream {
            ensure_stream(&js, spec).await?;
        }
        let link = Arc::new(PublishLink { client, js });
        self.publishers.write().await.insert((component.to_string(), link_name.to_string()), link);
        Ok(())
    }

    pub async fn remove_publish_link(&self, component: &str, link_name: &str) -> bool {
        self.publishers.write().await.remove(&(component.to_string(), link_name.to_string())).is_some()
    }

    /// Pull loops and deliveries running now, across all links.
    pub fn running_tasks(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    async fn publisher(&self, cx: &Option<Context>) -> Result<Arc<PublishLink>, String> {
        let component = cx.as_ref().and_then(|c| c.component.clone()).unwrap_or_default();
        let link_name = cx.as_ref().map_or("default", Context::link_name).to_string();
        self.publishers
            .read()
            .await
            .get(&(component.clone(), link_name.clone()))
            .cloned()
            .ok_or_else(|| format!("component {component:?} has no messaging link named {link_name:?} to this provider"))
    }
}

async fn stop_handler(mut link: HandlerLink) {
    let _ = link.stop.send(true);
    if let Err(e) = (&mut link.task).await {
        warn!(error = %e, "pull loop ended abnormally");
    }
}

impl pixelbus_provider_main::ServedLinks for JetStreamProvider {
    async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
        self.publishers.read().await.contains_key(&(component.to_string(), link_name.to_string()))
    }

    async fn serves_calls_to(&self, component: &str, link_name: &str) -> bool {
        self.handlers.read().await.contains_key(&(component.to_string(), link_name.to_string()))
    }
}

impl Provider for JetStreamProvider {
    /// A component links to us to publish (`consumer`).
    async fn receive_link_config_as_target(&self, link: LinkConfig<'_>) -> anyhow::Result<()> {
        let LinkConfig { source_id, link_name, config, secrets, .. } = link;
        let parsed = PublishConfig::from_link(config, &pixelbus_provider_main::secret_strings(secrets))
            .with_context(|| format!("invalid messaging-jetstream link config from {source_id} ({link_name})"))?;
        self.add_publish_link(source_id, link_name, parsed).await?;
        info!(component = source_id, link_name, "publish link ready");
        Ok(())
    }

    /// We link to a component to deliver messages to its `handler`.
    async fn receive_link_config_as_source(&self, link: LinkConfig<'_>) -> anyhow::Result<()> {
        let LinkConfig { target_id, link_name, config, secrets, .. } = link;
        let parsed = HandlerConfig::from_link(config, &pixelbus_provider_main::secret_strings(secrets))
            .with_context(|| format!("invalid messaging-jetstream link config to {target_id} ({link_name})"))?;
        // The wRPC client's own timeout only covers sending the call; ours bounds the answer.
        let wrpc = wasmcloud_provider_sdk::get_connection()
            .get_wrpc_client_custom(target_id, Some(parsed.timeout + Duration::from_secs(1)))
            .await
            .context("failed to create the wRPC client")?;
        let (stream, consumer) = (parsed.stream.name.clone(), parsed.consumer.clone());
        self.add_handler_link(target_id, link_name, parsed, Arc::new(WrpcDeliver { wrpc: Arc::new(wrpc) })).await?;
        info!(component = target_id, link_name, %stream, %consumer, "consuming for the component");
        Ok(())
    }

    async fn delete_link_as_target(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        if self.remove_publish_link(info.get_source_id(), info.get_link_name()).await {
            info!(component = info.get_source_id(), link_name = info.get_link_name(), "publish link removed");
        }
        Ok(())
    }

    async fn delete_link_as_source(&self, info: impl LinkDeleteInfo) -> anyhow::Result<()> {
        if self.remove_handler_link(info.get_target_id(), info.get_link_name()).await {
            info!(component = info.get_target_id(), link_name = info.get_link_name(), "handler link removed");
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let handlers: Vec<HandlerLink> = self.handlers.write().await.drain().map(|(_, l)| l).collect();
        for link in handlers {
            stop_handler(link).await;
        }
        self.publishers.write().await.clear();
        Ok(())
    }
}

impl consumer::Handler<Option<Context>> for JetStreamProvider {
    /// Stores the message in JetStream and returns once the server acknowledged it. Replies
    /// (a `reply-to`, or an `_INBOX.` subject) go out on core NATS: no stream keeps them.
    async fn publish(&self, cx: Option<Context>, msg: BrokerMessage) -> anyhow::Result<Result<(), String>> {
        let link = match self.publisher(&cx).await {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let subject = msg.subject;
        if let Some(reply_to) = msg.reply_to {
            let sent = match link.client.publish_with_reply(subject.clone(), reply_to, msg.body).await {
                Ok(()) => link.client.flush().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            return Ok(sent.map_err(|e| format!("publish to {subject}: {e}")));
        }
        if subject.starts_with("_INBOX.") {
            let sent = match link.client.publish(subject.clone(), msg.body).await {
                Ok(()) => link.client.flush().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            return Ok(sent.map_err(|e| format!("publish to {subject}: {e}")));
        }
        let ack = match link.js.publish(subject.clone(), msg.body).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        Ok(match ack {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                Err(format!("no JetStream stream stores {subject}; name one with `stream` and `subjects` in the link config"))
            }
            Err(e) => Err(format!("publish to {subject} was not stored: {e}")),
        })
    }

    async fn request(&self, cx: Option<Context>, subject: String, body: bytes::Bytes, timeout_ms: u32) -> anyhow::Result<Result<BrokerMessage, String>> {
        let link = match self.publisher(&cx).await {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let timeout = Duration::from_millis(u64::from(timeout_ms.max(1)));
        let reply = tokio::time::timeout(timeout, link.client.request(subject.clone(), body)).await;
        Ok(match reply {
            Ok(Ok(m)) => Ok(BrokerMessage { subject: m.subject.to_string(), body: m.payload, reply_to: None }),
            Ok(Err(e)) => Err(format!("request to {subject}: {e}")),
            Err(_) => Err(format!("request to {subject}: no reply within {timeout_ms} ms")),
        })
    }
}
