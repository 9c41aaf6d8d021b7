//! blobstore-nats against a real `nats-server -js` (started per test on a free port): the
//! wrpc:blobstore handler called exactly as the host calls it, minus the wire. Streamed results
//! are consumed the way the host does: the data stream and the status future polled together.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use pixelbus_provider_blobstore_nats::handlers::{Handler as _, ObjectId};
use pixelbus_provider_blobstore_nats::{BlobConfig, BlobNatsProvider};
use pixelbus_test_nats::NatsServer;
use tokio::io::AsyncReadExt as _;
use wasmcloud_provider_sdk::Context;

const COMPONENT: &str = "test-component";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

fn cx_link(link_name: &str) -> Option<Context> {
    let tracing = HashMap::from([("link-name".to_string(), link_name.to_string())]);
    Some(Context { component: Some(COMPONENT.to_string()), tracing })
}

fn id(container: &str, object: &str) -> ObjectId {
    ObjectId { container: container.to_string(), object: object.to_string() }
}

fn config(server: &NatsServer, extra: &[(&str, &str)]) -> BlobConfig {
    let mut config: HashMap<String, String> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    config.insert("cluster_uri".into(), server.url());
    BlobConfig::from_link(&config, &HashMap::new()).expect("valid config")
}

async fn provider(server: &NatsServer, extra: &[(&str, &str)]) -> BlobNatsProvider {
    let provider = BlobNatsProvider::default();
    provider.add_link(COMPONENT, "default", config(server, extra)).await.expect("link");
    provider
}

/// Deterministic bytes that are not periodic at any chunk size.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `data` as the host does: a stream of pieces (of `piece` bytes, each arriving after a
/// yield, so the provider sees a not-ready stream between pieces), then awaits the status.
async fn write_with(p: &BlobNatsProvider, cx: Option<Context>, container: &str, object: &str, data: &[u8], piece: usize) -> Result<(), String> {
    let pieces: Vec<Bytes> = data.chunks(piece.max(1)).map(Bytes::copy_from_slice).collect();
    let stream = futures::stream::iter(pieces).then(|b| async move {
        tokio::task::yield_now().await;
        b
    });
    let status = p.write_container_data(cx, id(container, object), Box::pin(stream)).await.expect("transport")?;
    status.await
}

async fn write(p: &BlobNatsProvider, container: &str, object: &str, data: &[u8]) -> Result<(), String> {
    write_with(p, cx(), container, object, data, 7 * KIB).await
}

/// Reads `start..=end`; returns the bytes and the pieces they came in.
async fn read_pieces_with(p: &BlobNatsProvider, cx: Option<Context>, container: &str, object: &str, start: u64, end: u64) -> Result<Vec<Bytes>, String> {
    let (data, status) = p.get_container_data(cx, id(container, object), start, end).await.expect("transport")?;
    let (pieces, status) = tokio::join!(data.collect::<Vec<Bytes>>(), status);
    status?;
    Ok(pieces)
}

async fn read_range(p: &BlobNatsProvider, container: &str, object: &str, start: u64, end: u64) -> Result<Vec<u8>, String> {
    Ok(read_pieces_with(p, cx(), container, object, start, end).await?.concat())
}

async fn read(p: &BlobNatsProvider, container: &str, object: &str) -> Result<Vec<u8>, String> {
    read_range(p, container, object, 0, u64::MAX).await
}

async fn list(p: &BlobNatsProvider, container: &str, limit: Option<u64>, offset: Option<u64>) -> Result<Vec<String>, String> {
    let (names, status) = p.list_container_objects(cx(), container.to_string(), limit, offset).await.expect("transport")?;
    let (batches, status) = tokio::join!(names.collect::<Vec<Vec<String>>>(), status);
    status?;
    Ok(batches.concat())
}

async fn create(p: &BlobNatsProvider, container: &str) {
    p.create_container(cx(), container.to_string()).await.expect("transport").expect("create container");
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn jetstream(server: &NatsServer) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(async_nats::connect(server.url()).await.expect("plain client"))
}

#[tokio::test]
async fn container_lifecycle() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    let c = || "photos".to_string();
    assert_eq!(p.container_exists(cx(), c()).await.unwrap(), Ok(false));
    create(&p, "photos").await;
    assert_eq!(p.container_exists(cx(), c()).await.unwrap(), Ok(true));
    // Creating an existing container is fine, and keeps its objects.
    write(&p, "photos", "a.jpg", b"first").await.expect("write");
    create(&p, "photos").await;
    assert_eq!(read(&p, "photos", "a.jpg").await.expect("read"), b"first");

    let info = p.get_container_info(cx(), c()).await.unwrap().expect("info");
    assert!(info.created_at + 60 >= now_secs() && info.created_at <= now_secs() + 1, "created_at {}", info.created_at);

    // Clear empties the container but keeps it.
    write(&p, "photos", "b/c.png", b"second").await.expect("write");
    assert_eq!(list(&p, "photos", None, None).await.expect("list").len(), 2);
    p.clear_container(cx(), c()).await.unwrap().expect("clear");
    assert_eq!(list(&p, "photos", None, None).await.expect("list"), Vec::<String>::new());
    assert_eq!(p.has_object(cx(), id("photos", "a.jpg")).await.unwrap(), Ok(false));
    assert_eq!(p.container_exists(cx(), c()).await.unwrap(), Ok(true));
    write(&p, "photos", "after-clear", b"x").await.expect("write after clear");
    assert_eq!(read(&p, "photos", "after-clear").await.expect("read"), b"x");

    // Object names are any UTF-8 (the object store encodes them).
    let name = "dir/naïve photo (1).jpg";
    write(&p, "photos", name, b"utf8").await.expect("write");
    assert_eq!(read(&p, "photos", name).await.expect("read"), b"utf8");
    assert!(list(&p, "photos", None, None).await.expect("list").contains(&name.to_string()));

    p.delete_container(cx(), c()).await.unwrap().expect("delete");
    assert_eq!(p.container_exists(cx(), c()).await.unwrap(), Ok(false));
    let err = p.delete_container(cx(), c()).await.unwrap().expect_err("deleting twice");
    assert!(err.contains("\"photos\" does not exist"), "{err}");
    // The bucket is really gone from the server.
    assert!(jetstream(&server).await.get_object_store("photos").await.is_err());
}

#[tokio::test]
async fn missing_containers_and_objects_are_clear_errors() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    let nope = || "nope".to_string();
    let no_container = |r: Result<(), String>| {
        let err = r.expect_err("missing container");
        assert!(err.contains("container \"nope\" does not exist"), "{err}");
    };
    no_container(p.get_container_info(cx(), nope()).await.unwrap().map(drop));
    no_container(p.clear_container(cx(), nope()).await.unwrap());
    no_container(p.list_container_objects(cx(), nope(), None, None).await.unwrap().map(drop));
    no_container(p.has_object(cx(), id("nope", "o")).await.unwrap().map(drop));
    no_container(p.get_object_info(cx(), id("nope", "o")).await.unwrap().map(drop));
    no_container(p.get_container_data(cx(), id("nope", "o"), 0, 10).await.unwrap().map(drop));
    no_container(p.write_container_data(cx(), id("nope", "o"), Box::pin(futures::stream::empty())).await.unwrap().map(drop));
    no_container(p.delete_object(cx(), id("nope", "o")).await.unwrap());
    no_container(p.delete_objects(cx(), nope(), vec!["o".into()]).await.unwrap());

    create(&p, "here").await;
    let no_object = |r: Result<(), String>| {
        let err = r.expect_err("missing object");
        assert!(err.contains("object \"ghost\" does not exist in container \"here\""), "{err}");
    };
    assert_eq!(p.has_object(cx(), id("here", "ghost")).await.unwrap(), Ok(false));
    no_object(p.get_object_info(cx(), id("here", "ghost")).await.unwrap().map(drop));
    no_object(p.get_container_data(cx(), id("here", "ghost"), 0, u64::MAX).await.unwrap().map(drop));
    no_object(p.copy_object(cx(), id("here", "ghost"), id("here", "copy")).await.unwrap());
    no_object(p.move_object(cx(), id("here", "ghost"), id("here", "moved")).await.unwrap());
    // Deleting what is not there is fine (wasi:blobstore).
    p.delete_object(cx(), id("here", "ghost")).await.unwrap().expect("delete missing object");
    p.delete_objects(cx(), "here".into(), vec!["ghost".into(), "ghost2".into()]).await.unwrap().expect("delete missing objects");

    // A deleted object is missing too, not a zero-length object.
    write(&p, "here", "gone", b"data").await.expect("write");
    p.delete_object(cx(), id("here", "gone")).await.unwrap().expect("delete");
    assert_eq!(p.has_object(cx(), id("here", "gone")).await.unwrap(), Ok(false));
    let err = p.get_container_data(cx(), id("here", "gone"), 0, 3).await.unwrap().map(drop).expect_err("deleted");
    assert!(err.contains("does not exist"), "{err}");

    // Names that cannot be buckets, empty names, bad ranges, strangers.
    let err = p.create_container(cx(), "a.b".into()).await.unwrap().expect_err("dot");
    assert!(err.contains("invalid container name \"a.b\""), "{err}");
    let err = p.container_exists(cx(), "".into()).await.unwrap().expect_err("empty");
    assert!(err.contains("invalid container name"), "{err}");
    let err = p.write_container_data(cx(), id("here", ""), Box::pin(futures::stream::empty())).await.unwrap().map(drop).expect_err("empty name");
    assert!(err.contains("must not be empty"), "{err}");
    write(&p, "here", "o", b"0123456789").await.expect("write");
    let err = p.get_container_data(cx(), id("here", "o"), 5, 4).await.unwrap().map(drop).expect_err("start after end");
    assert!(err.contains("start 5 is after end 4"), "{err}");
    let stranger = Some(Context { component: Some("someone-else".into()), tracing: HashMap::new() });
    let err = p.container_exists(stranger, "here".into()).await.unwrap().expect_err("not linked");
    assert!(err.contains("no blobstore link"), "{err}");
    let err = p.container_exists(cx_link("other"), "here".into()).await.unwrap().expect_err("other link name");
    assert!(err.contains("no blobstore link named \"other\""), "{err}");
}

#[tokio::test]
async fn multi_mib_object_streams_chunk_by_chunk() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    create(&p, "big").await;
    // 5 MiB and a bit: 41 chunks of 128 KiB, written as ~1900 pieces of 2.8 KB.
    let data = pattern(5 * MIB + 12_345, 42);
    write_with(&p, cx(), "big", "photo.raw", &data, 2_800).await.expect("write");

    let info = p.get_object_info(cx(), id("big", "photo.raw")).await.unwrap().expect("info");
    assert_eq!(info.size, data.len() as u64);
    assert!(info.created_at + 60 >= now_secs(), "created_at {}", info.created_at);

    // Stored as full chunks, not one chunk per incoming piece.
    let js = jetstream(&server).await;
    let stored = js.get_object_store("big").await.expect("bucket").info("photo.raw").await.expect("object info");
    assert_eq!(stored.chunks, data.len().div_ceil(128 * KIB), "chunks: {}", stored.chunks);

    // Read back whole: byte-identical, and delivered chunk by chunk.
    let pieces = read_pieces_with(&p, cx(), "big", "photo.raw", 0, u64::MAX).await.expect("read");
    assert!(pieces.len() >= 41, "{} pieces", pieces.len());
    assert!(pieces.iter().all(|b| b.len() <= 128 * KIB), "a piece larger than a chunk");
    assert!(pieces.concat() == data, "read back differs");

    // Inclusive ranges: across many chunks, inside one chunk, at the end, past the end.
    let (start, end) = (100_000usize, 3_000_000usize);
    let got = read_range(&p, "big", "photo.raw", start as u64, end as u64).await.expect("range");
    assert!(got == data[start..=end], "range {start}..={end} differs ({} bytes)", got.len());
    let got = read_range(&p, "big", "photo.raw", 200_000, 200_009).await.expect("small range");
    assert_eq!(got, &data[200_000..=200_009]);
    let last = data.len() as u64 - 1;
    assert_eq!(read_range(&p, "big", "photo.raw", last - 4, last + 1000).await.expect("tail"), &data[data.len() - 5..]);
    assert_eq!(read_range(&p, "big", "photo.raw", last + 1, u64::MAX).await.expect("past the end"), Vec::<u8>::new());

    // Objects are ordinary NATS object store objects: a plain client reads the same bytes...
    let mut object = js.get_object_store("big").await.expect("bucket").get("photo.raw").await.expect("get");
    let mut plain = Vec::new();
    object.read_to_end(&mut plain).await.expect("plain read");
    assert!(plain == data, "plain client read differs");
    // ...and what a plain client puts, the provider reads.
    let small = pattern(300 * KIB, 7);
    js.get_object_store("big").await.expect("bucket").put("from-cli", &mut small.as_slice()).await.expect("plain put");
    assert!(read(&p, "big", "from-cli").await.expect("read plain object") == small);
    // Object store links (which only other clients make) are refused, not read as empty.
    let bucket = js.get_object_store("big").await.expect("bucket");
    let target = bucket.info("from-cli").await.expect("info");
    bucket.add_link("alias", &target).await.expect("plain link");
    let err = p.get_container_data(cx(), id("big", "alias"), 0, u64::MAX).await.unwrap().map(drop).expect_err("link");
    assert!(err.contains("object store link"), "{err}");

    // Overwriting replaces the content and size; the empty object is an object.
    write(&p, "big", "photo.raw", b"tiny now").await.expect("overwrite");
    assert_eq!(read(&p, "big", "photo.raw").await.expect("read"), b"tiny now");
    assert_eq!(p.get_object_info(cx(), id("big", "photo.raw")).await.unwrap().expect("info").size, 8);
    write(&p, "big", "empty", b"").await.expect("empty write");
    assert_eq!(p.has_object(cx(), id("big", "empty")).await.unwrap(), Ok(true));
    assert_eq!(p.get_object_info(cx(), id("big", "empty")).await.unwrap().expect("info").size, 0);
    assert_eq!(read(&p, "big", "empty").await.expect("read empty"), Vec::<u8>::new());
}

#[tokio::test]
async fn chunk_bytes_sets_the_chunk_size() {
    let server = NatsServer::start();
    let p = provider(&server, &[("chunk_bytes", "4096")]).await;
    create(&p, "small-chunks").await;
    let data = pattern(100_000, 3);
    write_with(&p, cx(), "small-chunks", "o", &data, 1000).await.expect("write");
    let stored = jetstream(&server).await.get_object_store("small-chunks").await.expect("bucket").info("o").await.expect("info");
    assert_eq!(stored.chunks, 25);
    let pieces = read_pieces_with(&p, cx(), "small-chunks", "o", 0, u64::MAX).await.expect("read");
    assert_eq!(pieces.len(), 25);
    assert!(pieces.concat() == data);
    assert_eq!(read_range(&p, "small-chunks", "o", 4095, 4096).await.expect("across a chunk edge"), &data[4095..=4096]);
}

#[tokio::test]
async fn list_with_offset_and_limit() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    create(&p, "many").await;
    assert_eq!(list(&p, "many", None, None).await.expect("empty list"), Vec::<String>::new());
    let names: Vec<String> = (0..25).map(|i| format!("dir/object-{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        write(&p, "many", name, format!("content {i}").as_bytes()).await.expect("write");
    }
    let all = list(&p, "many", None, None).await.expect("list");
    assert_eq!(all.len(), 25);
    assert_eq!(all.iter().collect::<HashSet<_>>(), names.iter().collect::<HashSet<_>>());
    // Objects are listed in the order they were last written.
    assert_eq!(all, names);

    assert_eq!(list(&p, "many", Some(10), Some(5)).await.expect("page"), &all[5..15]);
    assert_eq!(list(&p, "many", Some(10), Some(20)).await.expect("last page"), &all[20..]);
    assert_eq!(list(&p, "many", Some(10), Some(30)).await.expect("past the end"), Vec::<String>::new());
    assert_eq!(list(&p, "many", Some(0), None).await.expect("limit 0"), Vec::<String>::new());
    assert_eq!(list(&p, "many", Some(3), None).await.expect("first 3"), &all[..3]);

    // Deleted objects are not listed.
    p.delete_objects(cx(), "many".into(), vec![names[0].clone(), names[24].clone()]).await.unwrap().expect("delete");
    let after = list(&p, "many", None, None).await.expect("list");
    assert_eq!(after, &names[1..24]);
}

#[tokio::test]
async fn object_info_and_delete() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    create(&p, "info").await;
    let data = pattern(300_001, 9);
    write(&p, "info", "a", &data).await.expect("write");
    write(&p, "info", "b", b"bee").await.expect("write");
    write(&p, "info", "c", b"sea").await.expect("write");
    let meta = p.get_object_info(cx(), id("info", "a")).await.unwrap().expect("info");
    assert_eq!(meta.size, 300_001);
    assert!(meta.created_at + 60 >= now_secs() && meta.created_at <= now_secs() + 1);
    assert_eq!(p.has_object(cx(), id("info", "a")).await.unwrap(), Ok(true));

    p.delete_object(cx(), id("info", "a")).await.unwrap().expect("delete");
    assert_eq!(p.has_object(cx(), id("info", "a")).await.unwrap(), Ok(false));
    assert!(p.get_object_info(cx(), id("info", "a")).await.unwrap().is_err());
    p.delete_objects(cx(), "info".into(), vec!["b".into(), "c".into()]).await.unwrap().expect("delete many");
    assert_eq!(list(&p, "info", None, None).await.expect("list"), Vec::<String>::new());

    // The chunks of deleted objects are gone from the server, not just hidden.
    let mut stream = jetstream(&server).await.get_stream("OBJ_info").await.expect("stream");
    let state = stream.info().await.expect("stream info").state.clone();
    assert!(state.bytes < 10_000, "{} bytes left after deleting everything", state.bytes);
}

#[tokio::test]
async fn copy_and_move_within_and_across_containers() {
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    for c in ["src", "dst", "third"] {
        create(&p, c).await;
    }
    let data = pattern(MIB + 777, 11);
    write(&p, "src", "orig", &data).await.expect("write");

    // Copy within a container and across; the source stays.
    p.copy_object(cx(), id("src", "orig"), id("src", "dup")).await.unwrap().expect("copy within");
    p.copy_object(cx(), id("src", "orig"), id("dst", "copied")).await.unwrap().expect("copy across");
    assert!(read(&p, "src", "dup").await.expect("read") == data);
    assert!(read(&p, "dst", "copied").await.expect("read") == data);
    assert!(read(&p, "src", "orig").await.expect("source kept") == data);
    assert_eq!(p.get_object_info(cx(), id("dst", "copied")).await.unwrap().expect("info").size, data.len() as u64);

    // Copy overwrites the destination; copying onto itself changes nothing.
    write(&p, "dst", "old", b"old content").await.expect("write");
    p.copy_object(cx(), id("src", "orig"), id("dst", "old")).await.unwrap().expect("overwrite");
    assert!(read(&p, "dst", "old").await.expect("read") == data);
    p.copy_object(cx(), id("src", "orig"), id("src", "orig")).await.unwrap().expect("self copy");
    assert!(read(&p, "src", "orig").await.expect("read") == data);

    // Move across containers: the source is gone, the destination identical.
    p.move_object(cx(), id("src", "dup"), id("third", "moved")).await.unwrap().expect("move across");
    assert_eq!(p.has_object(cx(), id("src", "dup")).await.unwrap(), Ok(false));
    assert!(read(&p, "third", "moved").await.expect("read") == data);
    // Move within a container (a rename).
    p.move_object(cx(), id("third", "moved"), id("third", "renamed")).await.unwrap().expect("rename");
    assert_eq!(p.has_object(cx(), id("third", "moved")).await.unwrap(), Ok(false));
    assert!(read(&p, "third", "renamed").await.expect("read") == data);
    // Moving onto itself keeps it.
    p.move_object(cx(), id("third", "renamed"), id("third", "renamed")).await.unwrap().expect("self move");
    assert_eq!(p.has_object(cx(), id("third", "renamed")).await.unwrap(), Ok(true));

    // A missing destination container is an error, and the source is untouched.
    let err = p.copy_object(cx(), id("src", "orig"), id("missing", "x")).await.unwrap().expect_err("no dest");
    assert!(err.contains("container \"missing\" does not exist"), "{err}");
    let err = p.move_object(cx(), id("src", "orig"), id("missing", "x")).await.unwrap().expect_err("no dest");
    assert!(err.contains("container \"missing\" does not exist"), "{err}");
    assert!(read(&p, "src", "orig").await.expect("source intact") == data);

    // Empty objects copy too.
    write(&p, "src", "empty", b"").await.expect("write");
    p.copy_object(cx(), id("src", "empty"), id("dst", "empty")).await.unwrap().expect("copy empty");
    assert_eq!(p.get_object_info(cx(), id("dst", "empty")).await.unwrap().expect("info").size, 0);
}

#[tokio::test]
async fn bucket_settings_prefix_and_link_names() {
    let server = NatsServer::start();
    let p = provider(&server, &[("bucket_prefix", "t1-"), ("storage", "memory"), ("max_bytes", "2097152"), ("ttl_seconds", "3600")]).await;
    create(&p, "imgs").await;
    let js = jetstream(&server).await;
    let mut stream = js.get_stream("OBJ_t1-imgs").await.expect("prefixed bucket");
    let cfg = stream.info().await.expect("info").config.clone();
    assert_eq!(cfg.storage, async_nats::jetstream::stream::StorageType::Memory);
    assert_eq!(cfg.max_bytes, 2_097_152);
    assert_eq!(cfg.max_age, Duration::from_secs(3600));
    assert!(js.get_stream("OBJ_imgs").await.is_err(), "unprefixed bucket made");

    // The bucket's size limit holds: a write over it fails, one under it works.
    write(&p, "imgs", "fits", &pattern(MIB, 1)).await.expect("1 MiB fits");
    let err = write(&p, "imgs", "too-big", &pattern(3 * MIB, 2)).await.expect_err("over max_bytes");
    assert!(err.contains("writing imgs/too-big"), "{err}");
    assert_eq!(p.has_object(cx(), id("imgs", "too-big")).await.unwrap(), Ok(false));
    assert!(read(&p, "imgs", "fits").await.expect("read") == pattern(MIB, 1));

    // A second link of the same component, under another name and prefix, sees other buckets.
    p.add_link(COMPONENT, "archive", config(&server, &[("bucket_prefix", "t2-")])).await.expect("second link");
    assert_eq!(p.container_exists(cx_link("archive"), "imgs".into()).await.unwrap(), Ok(false));
    p.create_container(cx_link("archive"), "imgs".into()).await.unwrap().expect("create");
    write_with(&p, cx_link("archive"), "imgs", "fits", b"archived", 3).await.expect("write");
    let got = read_pieces_with(&p, cx_link("archive"), "imgs", "fits", 0, u64::MAX).await.expect("read").concat();
    assert_eq!(got, b"archived");
    assert!(js.get_stream("OBJ_t2-imgs").await.is_ok());
    assert_eq!(p.link_count().await, 2);
}

#[tokio::test]
async fn data_survives_a_nats_server_restart() {
    let mut server = NatsServer::start();
    let p = provider(&server, &[]).await;
    create(&p, "durable").await;
    let big = pattern(2 * MIB + 5, 5);
    write(&p, "durable", "big", &big).await.expect("write");
    write(&p, "durable", "small", b"kept").await.expect("write");
    server.restart();
    // The client reconnects on its own; the first calls after the restart may fail while it does.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match read(&p, "durable", "big").await {
            Ok(got) => {
                assert!(got == big, "object differs after restart");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "still failing after restart: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read(&p, "durable", "small").await.expect("read"), b"kept");
    assert_eq!(list(&p, "durable", None, None).await.expect("list"), vec!["big".to_string(), "small".to_string()]);
    // And it keeps working: writes, copies, new containers.
    write(&p, "durable", "after", &pattern(600 * KIB, 6)).await.expect("write after restart");
    create(&p, "new-after-restart").await;
    p.copy_object(cx(), id("durable", "after"), id("new-after-restart", "copy")).await.unwrap().expect("copy");
    assert!(read(&p, "new-after-restart", "copy").await.expect("read") == pattern(600 * KIB, 6));
}

#[tokio::test]
async fn links_come_and_go_without_leaking_connections() {
    let server = NatsServer::start();
    // The start-up readiness probe may still be counted for a moment: wait for a quiet server.
    wait_for_connections(&server, 0, "before any link").await;
    let baseline = server.connections();
    let p = BlobNatsProvider::default();
    let cfg = config(&server, &[]);
    for round in 0..15 {
        p.add_link(COMPONENT, "default", cfg.clone()).await.expect("link");
        if round == 0 {
            // A link is one connection of its own.
            wait_for_connections(&server, baseline + 1, "with one link").await;
        }
        create(&p, "churn").await;
        write(&p, "churn", "round", format!("round {round}").as_bytes()).await.expect("write");
        assert_eq!(read(&p, "churn", "round").await.expect("read"), format!("round {round}").as_bytes());
        assert_eq!(list(&p, "churn", None, None).await.expect("list"), vec!["round".to_string()]);
        assert!(p.remove_link(COMPONENT, "default").await);
        assert_eq!(p.link_count().await, 0);
        let err = p.container_exists(cx(), "churn".into()).await.unwrap().expect_err("link gone");
        assert!(err.contains("no blobstore link"), "{err}");
    }
    // Replacing a link (same component and name) does not leak the old connection either.
    p.add_link(COMPONENT, "default", cfg.clone()).await.expect("link");
    p.add_link(COMPONENT, "default", cfg.clone()).await.expect("relink");
    assert_eq!(p.link_count().await, 1);
    use wasmcloud_provider_sdk::Provider as _;
    p.shutdown().await.expect("shutdown");
    assert_eq!(p.link_count().await, 0);

    // Every link's NATS connection closes once the link is gone.
    wait_for_connections(&server, baseline, "after removing every link").await;
}

/// Waits (up to 10 s) until the server counts `expected` client connections.
async fn wait_for_connections(server: &NatsServer, expected: usize, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = server.connections();
        if open == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{open} connections open {when}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn config_errors_name_the_key() {
    let server = NatsServer::start();
    let base = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        m.insert("cluster_uri".into(), server.url());
        m
    };
    for (k, v) in [
        ("storage", "tape"),
        ("max_bytes", "-1"),
        ("ttl_seconds", "soon"),
        ("chunk_bytes", "10"),
        ("replicas", "9"),
        ("bucket_prefix", "no.dots"),
        ("root", "/tmp/blobs"),
        ("bukket_prefix", "x"),
    ] {
        let err = BlobConfig::from_link(&base(&[(k, v)]), &HashMap::new()).expect_err("refused");
        assert!(err.to_string().contains(k), "{k}={v}: {err}");
    }
    let err = BlobConfig::from_link(&base(&[("client_jwt", "x")]), &HashMap::new()).expect_err("half credentials");
    assert!(err.to_string().contains("client_seed"), "{err}");

    // Checked against the server on connect: a chunk must fit in one message.
    let p = BlobNatsProvider::default();
    let err = p.add_link(COMPONENT, "default", config(&server, &[("chunk_bytes", "2097152")])).await.expect_err("chunk over max_payload");
    assert!(err.to_string().contains("chunk_bytes=2097152"), "{err}");
    assert_eq!(p.link_count().await, 0);

    // No server at the address: the link fails, naming it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut cfg = HashMap::new();
    cfg.insert("cluster_uri".to_string(), format!("nats://127.0.0.1:{free}"));
    let cfg = BlobConfig::from_link(&cfg, &HashMap::new()).expect("parses");
    let err = p.add_link(COMPONENT, "default", cfg).await.expect_err("nothing listening");
    assert!(err.to_string().contains(&format!("127.0.0.1:{free}")), "{err}");
    assert_eq!(p.link_count().await, 0);
}

#[tokio::test]
async fn readers_see_overwrites_and_can_stop_early() {
    let server = NatsServer::start();
    let p = provider(&server, &[("chunk_bytes", "4096")]).await;
    create(&p, "live").await;
    let data = pattern(200 * KIB, 21);
    write(&p, "live", "o", &data).await.expect("write");

    // The object is replaced (its old chunks purged) while a reader is in its first chunks:
    // the reader's status says so instead of hanging or returning a mix.
    let (mut stream, status) = p.get_container_data(cx(), id("live", "o"), 0, u64::MAX).await.unwrap().expect("open");
    let status = tokio::spawn(status);
    let first = stream.next().await.expect("first chunk");
    assert_eq!(first, &data[..4096]);
    write(&p, "live", "o", b"replaced").await.expect("overwrite");
    let rest: Vec<Bytes> = stream.collect().await;
    let err = status.await.expect("task").expect_err("read across an overwrite");
    assert!(err.contains("changed while it was read"), "{err}");
    assert!(rest.concat().len() < data.len() - 4096, "got the whole old object after it was replaced");
    assert_eq!(read(&p, "live", "o").await.expect("read"), b"replaced");

    // A reader that goes away stops the read: the status reports it rather than reading on.
    write(&p, "live", "o", &data).await.expect("write");
    let (mut stream, status) = p.get_container_data(cx(), id("live", "o"), 0, u64::MAX).await.unwrap().expect("open");
    let status = tokio::spawn(status);
    assert_eq!(stream.next().await.expect("first chunk"), &data[..4096]);
    drop(stream);
    let err = tokio::time::timeout(Duration::from_secs(5), status).await.expect("status settles").expect("task").expect_err("receiver gone");
    assert!(err.contains("went away"), "{err}");
}

#[tokio::test]
async fn whole_reads_check_the_recorded_digest() {
    use base64::Engine as _;
    let server = NatsServer::start();
    let p = provider(&server, &[]).await;
    create(&p, "digests").await;
    let data = pattern(300 * KIB, 33);
    write(&p, "digests", "o", &data).await.expect("write");
    // Rewrite the object's metadata with a digest that does not match its chunks.
    let js = jetstream(&server).await;
    let mut info = js.get_object_store("digests").await.expect("bucket").info("o").await.expect("info");
    info.digest = Some(format!("SHA-256={}", base64::engine::general_purpose::URL_SAFE.encode([0u8; 32])));
    let subject = format!("$O.digests.M.{}", base64::engine::general_purpose::URL_SAFE.encode("o"));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Rollup", "sub");
    let payload = serde_json::to_vec(&info).expect("json");
    js.publish_with_headers(subject, headers, payload.into()).await.expect("publish").await.expect("ack");

    let err = read(&p, "digests", "o").await.expect_err("digest mismatch");
    assert!(err.contains("is corrupt") && err.contains("digest"), "{err}");
    // A copy of it fails rather than storing bad data under a fresh digest.
    let err = p.copy_object(cx(), id("digests", "o"), id("digests", "copy")).await.unwrap().expect_err("copy of corrupt");
    assert!(err.contains("is corrupt"), "{err}");
    assert_eq!(p.has_object(cx(), id("digests", "copy")).await.unwrap(), Ok(false));
    // Ranges are not checked (they cannot be): the bytes themselves are intact here.
    assert!(read_range(&p, "digests", "o", 10, 20_000).await.expect("range") == data[10..=20_000]);
}
