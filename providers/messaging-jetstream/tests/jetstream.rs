//! messaging-jetstream against a real `nats-server -js` (started per test on a free port). The
//! component is replaced by a test `Deliver` — the provider's side of the contract (acks, naks,
//! backoff, dead letters, concurrency, publish acks, link churn) runs exactly as under a host.
//! The end-to-end suite drives it through a real host with the pipeline's components.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use pixelbus_provider_messaging_jetstream::handlers::consumer::Handler as _;
use pixelbus_provider_messaging_jetstream::handlers::BrokerMessage;
use pixelbus_provider_messaging_jetstream::{
    Deliver, HandlerConfig, JetStreamProvider, PublishConfig, DEAD_DELIVERIES, DEAD_ERROR, DEAD_SUBJECT,
};
use pixelbus_test_nats::NatsServer;
use wasmcloud_provider_sdk::Context;

const COMPONENT: &str = "test-component";
const SUBJECT: &str = "jobs.work";
const DEAD: &str = "jobs.dead";

type Outcome = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A stand-in component: records every delivery and answers with `behave(body, attempt)`.
#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    behave: Arc<dyn Fn(&str, usize) -> Outcome + Send + Sync>,
}

impl Recorder {
    fn new(behave: impl Fn(&str, usize) -> Outcome + Send + Sync + 'static) -> Recorder {
        Recorder {
            seen: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            behave: Arc::new(behave),
        }
    }

    fn ok() -> Recorder {
        Recorder::new(|_, _| Box::pin(async { Ok(()) }))
    }

    fn deliveries_of(&self, body: &str) -> Vec<Instant> {
        self.seen.lock().unwrap().iter().filter(|(b, _)| b == body).map(|(_, t)| *t).collect()
    }

    fn distinct(&self) -> usize {
        let seen = self.seen.lock().unwrap();
        let mut bodies: Vec<&String> = seen.iter().map(|(b, _)| b).collect();
        bodies.sort();
        bodies.dedup();
        bodies.len()
    }
}

impl Deliver for Recorder {
    fn deliver(&self, msg: BrokerMessage) -> Outcome {
        let body = String::from_utf8_lossy(&msg.body).to_string();
        let attempt = {
            let mut seen = self.seen.lock().unwrap();
            seen.push((body.clone(), Instant::now()));
            seen.iter().filter(|(b, _)| *b == body).count()
        };
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let answer = (self.behave)(&body, attempt);
        let in_flight = Arc::clone(&self.in_flight);
        Box::pin(async move {
            let result = answer.await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            result
        })
    }
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

/// Handler config on the test server: a work-queue stream, a durable consumer, short delays.
fn handler_config(server: &NatsServer, extra: &[(&str, &str)]) -> HandlerConfig {
    let url = server.url();
    let mut pairs = vec![
        ("cluster_uri", url.as_str()),
        ("stream", "JOBS"),
        ("subjects", SUBJECT),
        ("retention", "workqueue"),
        ("consumer", "workers"),
        ("timeout_ms", "2000"),
        ("backoff_ms", "100"),
        ("dead_letter_subject", DEAD),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k, v));
    }
    HandlerConfig::from_link(&map(&pairs), &map(&[])).expect("valid handler config")
}

async fn publisher(server: &NatsServer) -> JetStreamProvider {
    let p = JetStreamProvider::default();
    let config = PublishConfig::from_link(
        &map(&[("cluster_uri", &server.url()), ("stream", "JOBS"), ("subjects", SUBJECT), ("retention", "workqueue")]),
        &map(&[]),
    )
    .expect("valid publish config");
    p.add_publish_link(COMPONENT, "default", config).await.expect("publish link");
    p
}

async fn publish(p: &JetStreamProvider, body: &str) {
    let msg = BrokerMessage { subject: SUBJECT.into(), body: Bytes::from(body.to_string()), reply_to: None };
    p.publish(cx(), msg).await.expect("transport").expect("stored");
}

/// A subscription the server has surely registered: a client's `flush` only means written to
/// the socket, so wait for a probe published on the same connection to come back.
async fn subscribed(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    let mut sub = client.subscribe(subject.to_string()).await.expect("subscribe");
    client.publish(subject.to_string(), Bytes::from_static(b"probe")).await.expect("probe");
    let probe = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("probe returns").expect("open");
    assert_eq!(probe.payload, Bytes::from_static(b"probe"));
    sub
}

/// Polls `done` until it holds, or fails after `limit` with `what`.
async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stream_messages(server: &NatsServer) -> u64 {
    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.expect("connect"));
    let mut stream = js.get_stream("JOBS").await.expect("stream exists");
    stream.info().await.expect("info").state.messages
}

#[tokio::test]
async fn publish_returns_once_stored_and_every_message_is_delivered_and_acked_once() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    for i in 0..50 {
        publish(&p, &format!("job-{i}")).await;
    }
    // Ok meant stored: all 50 are in the stream before anyone consumes.
    assert_eq!(stream_messages(&server).await, 50);

    let component = Recorder::ok();
    p.add_handler_link(COMPONENT, "work", handler_config(&server, &[]), Arc::new(component.clone())).await.expect("handler link");
    until(Duration::from_secs(20), "50 deliveries", || component.distinct() == 50).await;
    // Acked: the work queue empties, and nothing comes a second time.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_messages(&server).await != 0 {
        assert!(Instant::now() < deadline, "acked messages were not removed from the work queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(component.seen.lock().unwrap().len(), 50, "a message was delivered twice");
}

#[tokio::test]
async fn failures_are_retried_after_the_backoff_and_then_acked() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    // Fails the first two deliveries of "flaky", then succeeds.
    let component = Recorder::new(|body, attempt| {
        let fail = body == "flaky" && attempt <= 2;
        Box::pin(async move { if fail { Err("backend down".to_string()) } else { Ok(()) } })
    });
    let config = handler_config(&server, &[("backoff_ms", "300,600"), ("max_deliver", "5")]);
    p.add_handler_link(COMPONENT, "work", config, Arc::new(component.clone())).await.expect("handler link");
    publish(&p, "flaky").await;
    publish(&p, "steady").await;
    until(Duration::from_secs(20), "three deliveries of flaky", || component.deliveries_of("flaky").len() == 3).await;
    let times = component.deliveries_of("flaky");
    assert!(times[1] - times[0] >= Duration::from_millis(300), "second delivery came before the first backoff");
    assert!(times[2] - times[1] >= Duration::from_millis(600), "third delivery came before the second backoff");
    assert_eq!(component.deliveries_of("steady").len(), 1, "a failing message held up or repeated another");
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_messages(&server).await != 0 {
        assert!(Instant::now() < deadline, "the finally successful message was not acked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn exhausted_messages_go_to_the_dead_letter_subject_with_the_error() {
    let server = NatsServer::start();
    let watcher = async_nats::connect(server.url()).await.expect("connect");
    let mut dead = subscribed(&watcher, DEAD).await;
    let p = publisher(&server).await;
    let component = Recorder::new(|_, attempt| Box::pin(async move { Err(format!("cannot decode\nattempt {attempt}")) }));
    let config = handler_config(&server, &[("max_deliver", "3")]);
    p.add_handler_link(COMPONENT, "work", config, Arc::new(component.clone())).await.expect("handler link");
    publish(&p, "poison").await;

    let letter = tokio::time::timeout(Duration::from_secs(20), dead.next()).await.expect("a dead letter").expect("subscription open");
    assert_eq!(letter.payload, Bytes::from_static(b"poison"));
    let headers = letter.headers.expect("dead letters carry headers");
    let header = |name: &str| headers.get(name).map(|v| v.as_str().to_string()).unwrap_or_default();
    assert_eq!(header(DEAD_ERROR), "cannot decode attempt 3", "the last error, on one line");
    assert_eq!(header(DEAD_SUBJECT), SUBJECT);
    assert_eq!(header(DEAD_DELIVERIES), "3");
    assert_eq!(component.deliveries_of("poison").len(), 3);
    // Moved: it is neither redelivered nor left in the queue.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(component.deliveries_of("poison").len(), 3, "delivered again after the dead letter");
    assert_eq!(stream_messages(&server).await, 0);
}

#[tokio::test]
async fn dead_letters_are_stored_when_a_stream_captures_them() {
    let server = NatsServer::start();
    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.expect("connect"));
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "DEAD".into(),
        subjects: vec![DEAD.into()],
        ..Default::default()
    })
    .await
    .expect("dead-letter stream");
    let p = publisher(&server).await;
    let component = Recorder::new(|_, _| Box::pin(async { Err("always".to_string()) }));
    p.add_handler_link(COMPONENT, "work", handler_config(&server, &[("max_deliver", "2")]), Arc::new(component.clone()))
        .await
        .expect("handler link");
    publish(&p, "a").await;
    publish(&p, "b").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut dead = js.get_stream("DEAD").await.expect("stream");
        if dead.info().await.expect("info").state.messages == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "two dead letters were not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = js.get_stream("DEAD").await.expect("stream").get_raw_message(1).await.expect("first dead letter");
    assert_eq!(stored.headers.get(DEAD_ERROR).map(|v| v.as_str()), Some("always"));
}

#[tokio::test]
async fn a_handler_that_does_not_answer_in_time_counts_as_failed() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    // The first delivery hangs far past the timeout; the second answers at once.
    let component = Recorder::new(|_, attempt| {
        Box::pin(async move {
            if attempt == 1 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok(())
        })
    });
    let config = handler_config(&server, &[("timeout_ms", "500"), ("backoff_ms", "100")]);
    p.add_handler_link(COMPONENT, "work", config, Arc::new(component.clone())).await.expect("handler link");
    publish(&p, "slow").await;
    until(Duration::from_secs(10), "a second delivery after the timeout", || component.deliveries_of("slow").len() == 2).await;
    let times = component.deliveries_of("slow");
    assert!(times[1] - times[0] >= Duration::from_millis(500), "redelivered before the timeout");
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_messages(&server).await != 0 {
        assert!(Instant::now() < deadline, "the second, successful delivery was not acked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_job_longer_than_the_ack_wait_is_not_redelivered_while_it_runs() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    let component = Recorder::new(|_, _| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            Ok(())
        })
    });
    let config = handler_config(&server, &[("timeout_ms", "20000"), ("ack_wait_ms", "1000"), ("max_in_flight", "4")]);
    p.add_handler_link(COMPONENT, "work", config, Arc::new(component.clone())).await.expect("handler link");
    publish(&p, "long").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while stream_messages(&server).await != 0 {
        assert!(Instant::now() < deadline, "the long job was not acked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(component.deliveries_of("long").len(), 1, "redelivered while still running");
}

#[tokio::test]
async fn no_more_than_max_in_flight_deliveries_run_at_once() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    for i in 0..24 {
        publish(&p, &format!("m{i}")).await;
    }
    let component = Recorder::new(|_, _| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(())
        })
    });
    let config = handler_config(&server, &[("max_in_flight", "3")]);
    p.add_handler_link(COMPONENT, "work", config, Arc::new(component.clone())).await.expect("handler link");
    until(Duration::from_secs(30), "24 deliveries", || component.distinct() == 24).await;
    assert_eq!(component.max_in_flight.load(Ordering::SeqCst), 3, "the limit was exceeded or never reached");
}

#[tokio::test]
async fn a_second_instance_takes_over_what_a_dead_one_left_unacked() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    // Instance A takes messages and never answers, as if its host died mid-job.
    let hung = Recorder::new(|_, _| Box::pin(futures::future::pending()));
    let a = JetStreamProvider::default();
    let short = [("timeout_ms", "30000"), ("ack_wait_ms", "1000"), ("max_in_flight", "4")];
    a.add_handler_link(COMPONENT, "work", handler_config(&server, &short), Arc::new(hung.clone())).await.expect("A");
    for i in 0..4 {
        publish(&p, &format!("job-{i}")).await;
    }
    until(Duration::from_secs(10), "A to take all four", || hung.distinct() == 4).await;
    // A dies: its tasks are gone, nothing it held was acked.
    drop(a);
    let healthy = Recorder::ok();
    let b = JetStreamProvider::default();
    b.add_handler_link(COMPONENT, "work", handler_config(&server, &short), Arc::new(healthy.clone())).await.expect("B");
    until(Duration::from_secs(30), "B to finish all four", || healthy.distinct() == 4).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_messages(&server).await != 0 {
        assert!(Instant::now() < deadline, "B's acks did not clear the queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn delivery_resumes_after_a_nats_server_restart() {
    let mut server = NatsServer::start();
    let p = publisher(&server).await;
    let component = Recorder::ok();
    p.add_handler_link(COMPONENT, "work", handler_config(&server, &[]), Arc::new(component.clone())).await.expect("link");
    for i in 0..10 {
        publish(&p, &format!("before-{i}")).await;
    }
    until(Duration::from_secs(20), "the first ten", || component.distinct() == 10).await;
    server.restart();
    // The clients reconnect on their own; publishing works again once they have.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut published = 0;
    while published < 10 {
        let msg = BrokerMessage { subject: SUBJECT.into(), body: Bytes::from(format!("after-{published}")), reply_to: None };
        match p.publish(cx(), msg).await.expect("transport") {
            Ok(()) => published += 1,
            Err(e) => {
                assert!(Instant::now() < deadline, "publishing did not recover after the restart: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    until(Duration::from_secs(30), "the ten published after the restart", || component.distinct() == 20).await;
}

#[tokio::test]
async fn publishing_where_no_stream_stores_it_is_an_error_but_replies_go_out() {
    let server = NatsServer::start();
    let p = publisher(&server).await;
    // A reply to a core NATS request is not a stream's business.
    let requester = async_nats::connect(server.url()).await.expect("connect");
    let inbox = requester.new_inbox();
    let mut replies = subscribed(&requester, &inbox).await;
    let reply = BrokerMessage { subject: inbox, body: Bytes::from_static(b"answer"), reply_to: None };
    p.publish(cx(), reply).await.expect("transport").expect("reply sent");
    let got = tokio::time::timeout(Duration::from_secs(5), replies.next()).await.expect("reply arrives").expect("open");
    assert_eq!(got.payload, Bytes::from_static(b"answer"));

    let msg = BrokerMessage { subject: "nobody.stores.this".into(), body: Bytes::from_static(b"x"), reply_to: None };
    let err = p.publish(cx(), msg).await.expect("transport").expect_err("not stored");
    assert!(err.contains("nobody.stores.this") && err.contains("stream"), "{err}");

    // An unlinked component is told so.
    let stranger = Some(Context { component: Some("stranger".into()), tracing: HashMap::new() });
    let msg = BrokerMessage { subject: SUBJECT.into(), body: Bytes::new(), reply_to: None };
    let err = p.publish(stranger, msg).await.expect("transport").expect_err("no link");
    assert!(err.contains("stranger"), "{err}");
}

#[tokio::test]
async fn a_missing_stream_without_subjects_fails_the_link_clearly() {
    let server = NatsServer::start();
    let p = JetStreamProvider::default();
    let config = handler_config(&server, &[("stream", "NOWHERE"), ("subjects", "")]);
    let err = p.add_handler_link(COMPONENT, "work", config, Arc::new(Recorder::ok())).await.expect_err("refused");
    assert!(format!("{err:#}").contains("NOWHERE"), "{err:#}");
    assert_eq!(p.running_tasks(), 0);
}

#[tokio::test]
async fn links_added_and_removed_repeatedly_leave_no_tasks_or_connections() {
    let server = NatsServer::start();
    let baseline = server.connections();
    let p = JetStreamProvider::default();
    for round in 0..20 {
        let component = Recorder::ok();
        p.add_handler_link(COMPONENT, "work", handler_config(&server, &[]), Arc::new(component)).await.expect("handler link");
        let publish_config = PublishConfig::from_link(&map(&[("cluster_uri", &server.url())]), &map(&[])).expect("config");
        p.add_publish_link(COMPONENT, "default", publish_config).await.expect("publish link");
        assert!(p.running_tasks() >= 1, "round {round}: no pull loop running");
        assert!(p.remove_handler_link(COMPONENT, "work").await);
        assert!(p.remove_publish_link(COMPONENT, "default").await);
        assert_eq!(p.running_tasks(), 0, "round {round}: a task outlived its link");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connections() != baseline {
        assert!(Instant::now() < deadline, "connections: {} now, {baseline} before", server.connections());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
