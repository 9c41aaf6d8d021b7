//! keyvalue-redb against real database files in temp dirs: the wrpc:keyvalue handlers exactly as
//! the host calls them (a `Context` naming the component), minus the wire.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use pixelbus_provider_keyvalue_redb::{open_files, KvRedbProvider, RedbConfig};
use wasmcloud_provider_sdk::{Context, Provider as _};

// The handler traits, re-exported for tests.
use pixelbus_provider_keyvalue_redb::handlers::{atomics::Handler as _, batch::Handler as _, store::Error, store::Handler as _};

const COMPONENT: &str = "test-component";

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

/// A call context for a named link of the test component.
fn cx_link(link_name: &str) -> Option<Context> {
    let tracing = HashMap::from([("link-name".to_string(), link_name.to_string())]);
    Some(Context { component: Some(COMPONENT.to_string()), tracing })
}

fn config(path: &Path, extra: &[(&str, &str)]) -> RedbConfig {
    let mut map: HashMap<String, String> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("path".into(), path.display().to_string());
    RedbConfig::from_link(&map, &HashMap::new()).expect("valid config")
}

async fn provider(path: &Path, extra: &[(&str, &str)]) -> KvRedbProvider {
    let p = KvRedbProvider::default();
    p.add_link(COMPONENT, "default", config(path, extra)).await.expect("link");
    p
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("kv.redb")
}

/// Whether this process still holds `path` open (redb locks the file while it is open).
fn is_open(path: &Path) -> bool {
    let canonical = std::fs::canonicalize(path).expect("db file exists");
    open_files().contains(&canonical)
}

/// Opening the file directly with redb works only once every holder has closed it.
fn opens_directly(path: &Path) -> Result<(), redb::DatabaseError> {
    redb::Database::create(path).map(drop)
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[tokio::test]
async fn set_get_exists_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The parent directory is created when missing.
    let path = dir.path().join("nested/deeper/kv.redb");
    let p = provider(&path, &[]).await;
    assert!(path.is_file(), "database file not created");
    let bk = || "jobs".to_string();
    assert_eq!(p.get(cx(), bk(), "missing".into()).await.unwrap(), Ok(None));
    assert_eq!(p.exists(cx(), bk(), "k".into()).await.unwrap(), Ok(false));
    p.set(cx(), bk(), "k".into(), b("v1")).await.unwrap().expect("set");
    assert_eq!(p.get(cx(), bk(), "k".into()).await.unwrap(), Ok(Some(b("v1"))));
    assert_eq!(p.exists(cx(), bk(), "k".into()).await.unwrap(), Ok(true));
    p.set(cx(), bk(), "k".into(), b("v2")).await.unwrap().expect("overwrite");
    assert_eq!(p.get(cx(), bk(), "k".into()).await.unwrap(), Ok(Some(b("v2"))));
    // Empty values and odd keys are values and keys like any other.
    p.set(cx(), bk(), "".into(), Bytes::new()).await.unwrap().expect("empty key and value");
    assert_eq!(p.get(cx(), bk(), "".into()).await.unwrap(), Ok(Some(Bytes::new())));
    p.set(cx(), bk(), "ünï/cøde key".into(), b("x")).await.unwrap().expect("unicode key");
    assert_eq!(p.get(cx(), bk(), "ünï/cøde key".into()).await.unwrap(), Ok(Some(b("x"))));
    p.delete(cx(), bk(), "k".into()).await.unwrap().expect("delete");
    assert_eq!(p.get(cx(), bk(), "k".into()).await.unwrap(), Ok(None));
    assert_eq!(p.exists(cx(), bk(), "k".into()).await.unwrap(), Ok(false));
    // Deleting what is not there is fine, also in a bucket never written.
    p.delete(cx(), bk(), "never".into()).await.unwrap().expect("delete missing");
    p.delete(cx(), "untouched".into(), "never".into()).await.unwrap().expect("delete in new bucket");
    assert_eq!(p.get(cx(), "untouched".into(), "never".into()).await.unwrap(), Ok(None));
}

#[tokio::test]
async fn buckets_are_separate_tables_unless_the_link_fixes_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    p.set(cx(), "a".into(), "k".into(), b("in a")).await.unwrap().expect("set a");
    p.set(cx(), "b".into(), "k".into(), b("in b")).await.unwrap().expect("set b");
    assert_eq!(p.get(cx(), "a".into(), "k".into()).await.unwrap(), Ok(Some(b("in a"))));
    assert_eq!(p.get(cx(), "b".into(), "k".into()).await.unwrap(), Ok(Some(b("in b"))));
    assert_eq!(p.list_keys(cx(), "a".into(), None).await.unwrap().expect("list").keys, vec!["k".to_string()]);

    let other = tempfile::tempdir().expect("tempdir");
    let fixed = provider(&db_path(&other), &[("bucket", "fixed")]).await;
    fixed.set(cx(), "whatever".into(), "k".into(), b("x")).await.unwrap().expect("set");
    assert_eq!(fixed.get(cx(), "other-name".into(), "k".into()).await.unwrap(), Ok(Some(b("x"))));
    // The fixed name even makes a name that would be refused usable.
    assert_eq!(fixed.get(cx(), "not valid!".into(), "k".into()).await.unwrap(), Ok(Some(b("x"))));
}

#[tokio::test]
async fn invalid_bucket_and_unknown_links_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    for bad in ["../etc", "", "a.b", "with space", &"x".repeat(65)] {
        assert_eq!(p.get(cx(), bad.to_string(), "k".into()).await.unwrap(), Err(Error::NoSuchStore), "{bad:?}");
        assert_eq!(p.set(cx(), bad.to_string(), "k".into(), b("v")).await.unwrap(), Err(Error::NoSuchStore), "{bad:?}");
    }
    // The longest valid name works.
    p.set(cx(), "x".repeat(64), "k".into(), b("v")).await.unwrap().expect("64-char bucket");
    let stranger = Some(Context { component: Some("someone-else".into()), tracing: HashMap::new() });
    let err = p.get(stranger, "jobs".into(), "k".into()).await.unwrap().expect_err("not linked");
    assert!(matches!(&err, Error::Other(m) if m.contains("no keyvalue link")), "{err:?}");
    let err = p.get(cx_link("other-link"), "jobs".into(), "k".into()).await.unwrap().expect_err("no such link name");
    assert!(matches!(&err, Error::Other(m) if m.contains("other-link")), "{err:?}");
}

#[tokio::test]
async fn list_keys_pages_sorted_with_a_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    let empty = p.list_keys(cx(), "many".into(), None).await.unwrap().expect("list empty");
    assert_eq!((empty.keys.len(), empty.cursor), (0, None));

    // Written in reverse so the order returned is the store's, not the insertion order.
    let items: Vec<(String, Bytes)> = (0..2345).rev().map(|i| (format!("key-{i:05}"), Bytes::from(i.to_string()))).collect();
    p.set_many(cx(), "many".into(), items).await.unwrap().expect("set_many");

    let first = p.list_keys(cx(), "many".into(), None).await.unwrap().expect("page 1");
    assert_eq!(first.keys.len(), 1000);
    assert_eq!(first.cursor, Some(1000));
    assert_eq!(first.keys[0], "key-00000");
    assert_eq!(first.keys[999], "key-00999");

    let mut seen = first.keys.clone();
    let mut cursor = first.cursor;
    let mut pages = 1;
    while let Some(c) = cursor {
        let page = p.list_keys(cx(), "many".into(), Some(c)).await.unwrap().expect("page");
        assert!(page.keys.len() <= 1000);
        seen.extend(page.keys);
        cursor = page.cursor;
        pages += 1;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..2345).map(|i| format!("key-{i:05}")).collect();
    assert_eq!(seen, expected, "every key exactly once, sorted");

    // A cursor past the end is an empty last page, not an error.
    let past = p.list_keys(cx(), "many".into(), Some(10_000)).await.unwrap().expect("past the end");
    assert_eq!((past.keys.len(), past.cursor), (0, None));
    // Exactly one full page leaves no cursor.
    let items: Vec<(String, Bytes)> = (0..1000).map(|i| (format!("k{i:04}"), Bytes::new())).collect();
    p.set_many(cx(), "exact".into(), items).await.unwrap().expect("set_many");
    let page = p.list_keys(cx(), "exact".into(), None).await.unwrap().expect("list");
    assert_eq!((page.keys.len(), page.cursor), (1000, None));
}

#[tokio::test]
async fn batch_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    assert_eq!(p.get_many(cx(), "batch".into(), vec!["a".into()]).await.unwrap(), Ok(vec![None]), "bucket never written");
    let items = vec![("a".to_string(), b("1")), ("b".to_string(), b("2")), ("c".to_string(), b("3"))];
    p.set_many(cx(), "batch".into(), items).await.unwrap().expect("set_many");
    let got = p.get_many(cx(), "batch".into(), vec!["a".into(), "nope".into(), "b".into()]).await.unwrap().expect("get_many");
    assert_eq!(got, vec![Some(("a".into(), b("1"))), None, Some(("b".into(), b("2")))]);
    // Overwrites in a batch.
    p.set_many(cx(), "batch".into(), vec![("a".to_string(), b("one"))]).await.unwrap().expect("overwrite");
    assert_eq!(p.get(cx(), "batch".into(), "a".into()).await.unwrap(), Ok(Some(b("one"))));
    // Missing keys in a delete batch are skipped.
    p.delete_many(cx(), "batch".into(), vec!["a".into(), "missing".into(), "b".into()]).await.unwrap().expect("delete_many");
    let got = p.get_many(cx(), "batch".into(), vec!["a".into(), "b".into(), "c".into()]).await.unwrap().expect("get_many");
    assert_eq!(got, vec![None, None, Some(("c".into(), b("3")))]);
    assert_eq!(p.get_many(cx(), "batch".into(), vec![]).await.unwrap(), Ok(vec![]));
}

#[tokio::test]
async fn large_values_and_the_size_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    // Several MiB under the default 16 MiB limit, with content that would show misplaced bytes.
    let big = Bytes::from((0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    p.set(cx(), "big".into(), "v".into(), big.clone()).await.unwrap().expect("12 MiB value");
    assert_eq!(p.get(cx(), "big".into(), "v".into()).await.unwrap(), Ok(Some(big.clone())));
    let over_default = Bytes::from(vec![1u8; 16 * 1024 * 1024 + 1]);
    let err = p.set(cx(), "big".into(), "w".into(), over_default).await.unwrap().expect_err("over 16 MiB accepted");
    assert!(matches!(&err, Error::Other(m) if m.contains("max_value_bytes") && m.contains("16777216")), "{err:?}");

    let other = tempfile::tempdir().expect("tempdir");
    let small = provider(&db_path(&other), &[("max_value_bytes", "1048576")]).await;
    small.set(cx(), "b".into(), "at-limit".into(), Bytes::from(vec![9u8; 1_048_576])).await.unwrap().expect("exactly at the limit");
    let err = small.set(cx(), "b".into(), "over".into(), Bytes::from(vec![9u8; 1_048_577])).await.unwrap().expect_err("refused");
    assert!(matches!(&err, Error::Other(m) if m.contains("max_value_bytes") && m.contains("\"over\"") && m.contains("1048577")), "{err:?}");
    assert_eq!(small.get(cx(), "b".into(), "over".into()).await.unwrap(), Ok(None));

    // A batch with one value over the limit writes nothing at all.
    let items = vec![("ok-1".to_string(), b("fine")), ("too-big".to_string(), Bytes::from(vec![0u8; 2_000_000])), ("ok-2".to_string(), b("fine"))];
    let err = small.set_many(cx(), "b".into(), items).await.unwrap().expect_err("refused");
    assert!(matches!(&err, Error::Other(m) if m.contains("too-big")), "{err:?}");
    let got = small.get_many(cx(), "b".into(), vec!["ok-1".into(), "too-big".into(), "ok-2".into()]).await.unwrap().expect("get_many");
    assert_eq!(got, vec![None, None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Arc::new(provider(&db_path(&dir), &[]).await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let p = Arc::clone(&p);
        tasks.push(tokio::spawn(async move {
            let mut returned = Vec::new();
            for _ in 0..10 {
                returned.push(p.increment(cx(), "counters".into(), "hits".into(), 1).await.unwrap().expect("increment"));
            }
            returned
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        for n in t.await.expect("task") {
            assert!(all.insert(n), "two increments returned the same value {n}");
        }
    }
    // Every increment saw a distinct predecessor: the results are exactly 1..=200.
    assert_eq!(all, (1..=200).collect::<BTreeSet<u64>>());
    assert_eq!(p.get(cx(), "counters".into(), "hits".into()).await.unwrap(), Ok(Some(b("200"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_through_links_sharing_one_file_sum_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    // Two links of one provider, and a second provider in the same process, on one file.
    let p1 = Arc::new(KvRedbProvider::default());
    p1.add_link(COMPONENT, "left", config(&path, &[])).await.expect("link left");
    p1.add_link(COMPONENT, "right", config(&path, &[("bucket", "counters")])).await.expect("link right");
    let p2 = Arc::new(provider(&path, &[]).await);
    assert_eq!(open_files().iter().filter(|f| **f == std::fs::canonicalize(&path).unwrap()).count(), 1);

    let mut tasks = Vec::new();
    for i in 0..30 {
        let (p1, p2) = (Arc::clone(&p1), Arc::clone(&p2));
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let r = match i % 3 {
                    0 => p1.increment(cx_link("left"), "counters".into(), "n".into(), 3).await,
                    // The link's fixed bucket is "counters", whatever is opened.
                    1 => p1.increment(cx_link("right"), "anything".into(), "n".into(), 3).await,
                    _ => p2.increment(cx(), "counters".into(), "n".into(), 3).await,
                };
                r.unwrap().expect("increment");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(p1.get(cx_link("left"), "counters".into(), "n".into()).await.unwrap(), Ok(Some(b("900"))));
    assert_eq!(p2.get(cx(), "counters".into(), "n".into()).await.unwrap(), Ok(Some(b("900"))));
}

#[tokio::test]
async fn increment_semantics_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = provider(&db_path(&dir), &[]).await;
    let bk = || "counters".to_string();
    assert_eq!(p.increment(cx(), bk(), "new".into(), 5).await.unwrap(), Ok(5), "missing key starts at 0");
    assert_eq!(p.increment(cx(), bk(), "new".into(), 0).await.unwrap(), Ok(5));
    assert_eq!(p.get(cx(), bk(), "new".into()).await.unwrap(), Ok(Some(b("5"))), "stored as a decimal string");
    assert_eq!(p.increment(cx(), bk(), "zero".into(), 0).await.unwrap(), Ok(0));
    assert_eq!(p.exists(cx(), bk(), "zero".into()).await.unwrap(), Ok(true));
    // A number a component stored itself counts on from there.
    p.set(cx(), bk(), "typed".into(), b("41")).await.unwrap().expect("set");
    assert_eq!(p.increment(cx(), bk(), "typed".into(), 1).await.unwrap(), Ok(42));

    // Not a number: an error naming the key, and the value is left alone.
    p.set(cx(), bk(), "word".into(), b("abc")).await.unwrap().expect("set");
    let err = p.increment(cx(), bk(), "word".into(), 1).await.unwrap().expect_err("not a number");
    assert!(matches!(&err, Error::Other(m) if m.contains("\"word\"") && m.contains("not a decimal number")), "{err:?}");
    assert_eq!(p.get(cx(), bk(), "word".into()).await.unwrap(), Ok(Some(b("abc"))));
    for junk in ["-1", "1.5", "", "18446744073709551616"] {
        p.set(cx(), bk(), "junk".into(), Bytes::from(junk)).await.unwrap().expect("set");
        assert!(p.increment(cx(), bk(), "junk".into(), 1).await.unwrap().is_err(), "{junk:?} incremented");
    }
    p.set(cx(), bk(), "bin".into(), Bytes::from_static(&[0xff, 0xfe])).await.unwrap().expect("set");
    assert!(p.increment(cx(), bk(), "bin".into(), 1).await.unwrap().is_err(), "non-UTF-8 incremented");

    // Overflow: an error, and the value is left alone.
    p.set(cx(), bk(), "max".into(), Bytes::from(u64::MAX.to_string())).await.unwrap().expect("set");
    let err = p.increment(cx(), bk(), "max".into(), 1).await.unwrap().expect_err("overflow");
    assert!(matches!(&err, Error::Other(m) if m.contains("overflows")), "{err:?}");
    assert_eq!(p.get(cx(), bk(), "max".into()).await.unwrap(), Ok(Some(Bytes::from(u64::MAX.to_string()))));
    assert_eq!(p.increment(cx(), bk(), "max".into(), 0).await.unwrap(), Ok(u64::MAX));
}

#[tokio::test]
async fn data_survives_a_provider_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    {
        let p = provider(&path, &[]).await;
        p.set(cx(), "durable".into(), "k".into(), b("kept")).await.unwrap().expect("set");
        p.increment(cx(), "durable".into(), "n".into(), 7).await.unwrap().expect("increment");
        p.set_many(cx(), "other".into(), vec![("x".into(), b("1")), ("y".into(), b("2"))]).await.unwrap().expect("set_many");
        assert!(is_open(&path));
        // The provider (and its links) dropped, as when the process ends: the file is closed.
    }
    assert!(!is_open(&path), "file still open after the provider was dropped");
    let p = provider(&path, &[]).await;
    assert_eq!(p.get(cx(), "durable".into(), "k".into()).await.unwrap(), Ok(Some(b("kept"))));
    assert_eq!(p.increment(cx(), "durable".into(), "n".into(), 1).await.unwrap(), Ok(8));
    assert_eq!(p.list_keys(cx(), "other".into(), None).await.unwrap().expect("list").keys, vec!["x".to_string(), "y".to_string()]);

    // The host's shutdown closes the file too, and a later provider opens it again.
    p.shutdown().await.expect("shutdown");
    assert_eq!(p.link_count().await, 0);
    assert!(!is_open(&path));
    opens_directly(&path).expect("file free after shutdown");
    let again = provider(&path, &[]).await;
    assert_eq!(again.get(cx(), "durable".into(), "n".into()).await.unwrap(), Ok(Some(b("8"))));
}

#[tokio::test]
async fn link_churn_releases_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let p = KvRedbProvider::default();
    for round in 0..50 {
        p.add_link(COMPONENT, "default", config(&path, &[])).await.expect("link");
        p.set(cx(), "churn".into(), "round".into(), Bytes::from(round.to_string())).await.unwrap().expect("set");
        assert!(p.remove_link(COMPONENT, "default").await);
        assert_eq!(p.link_count().await, 0);
        assert!(!is_open(&path), "round {round}: file still open after its only link was removed");
        // Not just forgotten by the registry: the file lock is really released.
        opens_directly(&path).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    assert!(!p.remove_link(COMPONENT, "default").await, "removing a missing link reports false");
    let fresh = provider(&path, &[]).await;
    assert_eq!(fresh.get(cx(), "churn".into(), "round".into()).await.unwrap(), Ok(Some(b("49"))));
}

#[tokio::test]
async fn a_shared_file_closes_with_its_last_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let p = KvRedbProvider::default();
    p.add_link(COMPONENT, "one", config(&path, &[])).await.expect("link one");
    p.add_link("another-component", "default", config(&path, &[])).await.expect("link two");
    p.set(cx_link("one"), "s".into(), "k".into(), b("v")).await.unwrap().expect("set");
    assert!(p.remove_link(COMPONENT, "one").await);
    assert!(is_open(&path), "closed while another link still uses it");
    assert!(matches!(opens_directly(&path), Err(redb::DatabaseError::DatabaseAlreadyOpen)));
    let other_cx = Some(Context { component: Some("another-component".into()), tracing: HashMap::new() });
    assert_eq!(p.get(other_cx, "s".into(), "k".into()).await.unwrap(), Ok(Some(b("v"))));
    assert!(p.remove_link("another-component", "default").await);
    assert!(!is_open(&path));
    opens_directly(&path).expect("file free after the last link went");
}

#[tokio::test]
async fn relinking_the_same_name_replaces_the_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("first.redb"), dir.path().join("second.redb"));
    let p = provider(&first, &[]).await;
    p.set(cx(), "b".into(), "k".into(), b("in first")).await.unwrap().expect("set");
    p.add_link(COMPONENT, "default", config(&second, &[])).await.expect("relink");
    assert_eq!(p.link_count().await, 1);
    assert!(!is_open(&first), "the replaced link's file stayed open");
    assert_eq!(p.get(cx(), "b".into(), "k".into()).await.unwrap(), Ok(None), "still reading the old file");
}

#[tokio::test]
async fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir).display().to_string();
    let parse = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RedbConfig::from_link(&map, &HashMap::new())
    };
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "path"),
        (&[("path", "kv.redb")], "path"),
        (&[("path", &path), ("max_value_bytes", "big")], "max_value_bytes"),
        (&[("path", &path), ("max_value_bytes", "0")], "max_value_bytes"),
        (&[("path", &path), ("bucket", "no/slashes")], "bucket"),
        (&[("path", &path), ("history", "1")], "history"),
    ];
    for (pairs, key) in cases {
        let err = parse(pairs).expect_err("refused");
        assert!(err.to_string().contains(&format!("\"{key}\"")), "{pairs:?}: {err}");
    }

    // A path whose directory cannot be made fails the link, naming the path.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").expect("write");
    let bad = blocker.join("kv.redb");
    let err = KvRedbProvider::default().add_link(COMPONENT, "default", config(&bad, &[])).await.expect_err("refused");
    assert!(err.to_string().contains(&blocker.display().to_string()), "{err}");
    // So does a file that is not a redb database, and nothing of it is overwritten.
    let err = KvRedbProvider::default().add_link(COMPONENT, "default", config(&blocker, &[])).await.expect_err("refused");
    assert!(err.to_string().contains("a-file"), "{err}");
    assert_eq!(std::fs::read(&blocker).expect("read"), b"not a directory");
}
