//! keyvalue-nats against a real `nats-server -js` (started per test on a free port): the
//! wrpc:keyvalue handlers exactly as the host calls them, minus the wire.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use pixelbus_provider_keyvalue_nats::{KvConfig, KvNatsProvider};
use pixelbus_test_nats::NatsServer;
use wasmcloud_provider_sdk::Context;

// The handler traits, re-exported for tests.
use pixelbus_provider_keyvalue_nats::handlers::{atomics::Handler as _, batch::Handler as _, store::Handler as _, store::Error};

const COMPONENT: &str = "test-component";

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

async fn provider(server: &NatsServer, extra: &[(&str, &str)]) -> KvNatsProvider {
    let mut config: HashMap<String, String> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    config.insert("cluster_uri".into(), server.url());
    let config = KvConfig::from_link(&config, &HashMap::new()).expect("valid config");
    let provider = KvNatsProvider::default();
    provider.add_link(COMPONENT, "default", config).await.expect("link");
    provider
}

#[tokio::test]
async fn set_get_exists_delete() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    let b = || "jobs".to_string();
    assert_eq!(p.get(cx(), b(), "missing".into()).await.unwrap(), Ok(None));
    assert_eq!(p.exists(cx(), b(), "k".into()).await.unwrap(), Ok(false));
    p.set(cx(), b(), "k".into(), Bytes::from_static(b"v1")).await.unwrap().expect("set");
    assert_eq!(p.get(cx(), b(), "k".into()).await.unwrap(), Ok(Some(Bytes::from_static(b"v1"))));
    assert_eq!(p.exists(cx(), b(), "k".into()).await.unwrap(), Ok(true));
    p.set(cx(), b(), "k".into(), Bytes::from_static(b"v2")).await.unwrap().expect("overwrite");
    assert_eq!(p.get(cx(), b(), "k".into()).await.unwrap(), Ok(Some(Bytes::from_static(b"v2"))));
    p.delete(cx(), b(), "k".into()).await.unwrap().expect("delete");
    assert_eq!(p.get(cx(), b(), "k".into()).await.unwrap(), Ok(None));
    assert_eq!(p.exists(cx(), b(), "k".into()).await.unwrap(), Ok(false));
    // Deleting what is not there is fine.
    p.delete(cx(), b(), "never".into()).await.unwrap().expect("delete missing");
}

#[tokio::test]
async fn bucket_is_created_with_the_link_settings() {
    let server = NatsServer::start();
    let p = provider(&server, &[("history", "4"), ("ttl_seconds", "3600")]).await;
    p.set(cx(), "made-here".into(), "a".into(), Bytes::from_static(b"1")).await.unwrap().expect("set");
    let nats = async_nats::connect(server.url()).await.expect("connect");
    let js = async_nats::jetstream::new(nats);
    let mut kv = js.get_key_value("made-here").await.expect("bucket exists");
    let status = kv.status().await.expect("status");
    assert_eq!(status.history(), 4);
    assert_eq!(status.max_age(), std::time::Duration::from_secs(3600));
    // What the provider wrote, a plain client reads.
    assert_eq!(kv.get("a").await.expect("get"), Some(Bytes::from_static(b"1")));
    let _ = &mut kv;
}

#[tokio::test]
async fn link_bucket_overrides_the_opened_name() {
    let server = NatsServer::start();
    let p = provider(&server, &[("bucket", "fixed")]).await;
    p.set(cx(), "whatever".into(), "k".into(), Bytes::from_static(b"x")).await.unwrap().expect("set");
    assert_eq!(p.get(cx(), "other-name".into(), "k".into()).await.unwrap(), Ok(Some(Bytes::from_static(b"x"))));
}

#[tokio::test]
async fn invalid_bucket_and_unknown_links_are_errors() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    assert_eq!(p.get(cx(), "../etc".into(), "k".into()).await.unwrap(), Err(Error::NoSuchStore));
    let stranger = Some(Context { component: Some("someone-else".into()), tracing: HashMap::new() });
    let err = p.get(stranger, "jobs".into(), "k".into()).await.unwrap().expect_err("not linked");
    assert!(matches!(&err, Error::Other(m) if m.contains("no keyvalue link")), "{err:?}");
}

#[tokio::test]
async fn list_keys_pages_through_everything() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    let items: Vec<(String, Bytes)> = (0..1205).map(|i| (format!("key-{i:05}"), Bytes::from(i.to_string()))).collect();
    p.set_many(cx(), "many".into(), items).await.unwrap().expect("set_many");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = p.list_keys(cx(), "many".into(), cursor).await.unwrap().expect("list");
        assert!(page.keys.len() <= 1000);
        seen.extend(page.keys);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1205);
    seen.dedup();
    assert_eq!(seen.len(), 1205, "a key was listed twice");
}

#[tokio::test]
async fn batch_operations() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    let items = vec![("a".to_string(), Bytes::from_static(b"1")), ("b".to_string(), Bytes::from_static(b"2"))];
    p.set_many(cx(), "batch".into(), items).await.unwrap().expect("set_many");
    let got = p.get_many(cx(), "batch".into(), vec!["a".into(), "nope".into(), "b".into()]).await.unwrap().expect("get_many");
    assert_eq!(got, vec![Some(("a".into(), Bytes::from_static(b"1"))), None, Some(("b".into(), Bytes::from_static(b"2")))]);
    p.delete_many(cx(), "batch".into(), vec!["a".into(), "b".into()]).await.unwrap().expect("delete_many");
    let got = p.get_many(cx(), "batch".into(), vec!["a".into(), "b".into()]).await.unwrap().expect("get_many");
    assert_eq!(got, vec![None, None]);
}

#[tokio::test]
async fn concurrent_increments_lose_nothing() {
    let server = NatsServer::start();
    let p = Arc::new(provider(&server, &[]).await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = Arc::clone(&p);
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                p.increment(cx(), "counters".into(), "hits".into(), 2).await.unwrap().expect("increment");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(p.get(cx(), "counters".into(), "hits".into()).await.unwrap(), Ok(Some(Bytes::from_static(b"400"))));
    // A value that is not a number is an error, not a silent reset.
    p.set(cx(), "counters".into(), "word".into(), Bytes::from_static(b"abc")).await.unwrap().expect("set");
    assert!(p.increment(cx(), "counters".into(), "word".into(), 1).await.unwrap().is_err());
}

#[tokio::test]
async fn large_values_up_to_the_limit() {
    let server = NatsServer::start();
    let p = provider(&server, &[("max_value_bytes", "800000")]).await;
    let big = Bytes::from(vec![7u8; 700_000]);
    p.set(cx(), "big".into(), "v".into(), big.clone()).await.unwrap().expect("700 KB value");
    assert_eq!(p.get(cx(), "big".into(), "v".into()).await.unwrap(), Ok(Some(big)));
    let too_big = Bytes::from(vec![7u8; 900_000]);
    assert!(p.set(cx(), "big".into(), "w".into(), too_big).await.unwrap().is_err(), "over max_value_bytes accepted");
}

#[tokio::test]
async fn data_survives_a_nats_server_restart() {
    let mut server = NatsServer::start();
    let p = provider(&server, &[]).await;
    p.set(cx(), "durable".into(), "k".into(), Bytes::from_static(b"kept")).await.unwrap().expect("set");
    server.restart();
    // The client reconnects on its own; the first calls after the restart may fail while it does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match p.get(cx(), "durable".into(), "k".into()).await.unwrap() {
            Ok(v) => {
                assert_eq!(v, Some(Bytes::from_static(b"kept")));
                break;
            }
            Err(e) => assert!(std::time::Instant::now() < deadline, "still failing after restart: {e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    p.set(cx(), "durable".into(), "after".into(), Bytes::from_static(b"ok")).await.unwrap().expect("write after restart");
}

#[tokio::test]
async fn links_come_and_go_without_leaking() {
    let server = NatsServer::start();
    let p = KvNatsProvider::default();
    let mut config = HashMap::new();
    config.insert("cluster_uri".to_string(), server.url());
    let config = KvConfig::from_link(&config, &HashMap::new()).expect("config");
    for round in 0..20 {
        p.add_link(COMPONENT, "default", config.clone()).await.expect("link");
        p.set(cx(), "churn".into(), "round".into(), Bytes::from(round.to_string())).await.unwrap().expect("set");
        assert!(p.remove_link(COMPONENT, "default").await);
        assert_eq!(p.link_count().await, 0);
    }
    // Every link's NATS connection closes once the link is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let open = server.connections();
        if open == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{open} connections still open after removing every link");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
