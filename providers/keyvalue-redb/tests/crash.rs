//! Crash safety: this test re-runs its own test binary as a child that writes and commits
//! values in a loop, printing each committed key, and is killed with SIGKILL mid-loop. Every
//! value the child reported committed must then be there, and the file must open cleanly.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pixelbus_provider_keyvalue_redb::handlers::{atomics::Handler as _, batch::Handler as _, store::Handler as _};
use pixelbus_provider_keyvalue_redb::{KvRedbProvider, RedbConfig};
use wasmcloud_provider_sdk::Context;

/// Set in the child: the database file it writes to.
const CHILD_ENV: &str = "PIXELBUS_KVREDB_CRASH_CHILD_DB";
const TEST_NAME: &str = "committed_writes_survive_sigkill";
const COMPONENT: &str = "crash-test";
/// Committed writes the parent waits for before it kills the child.
const KILL_AFTER: usize = 60;

fn cx() -> Option<Context> {
    Some(Context { component: Some(COMPONENT.to_string()), tracing: HashMap::new() })
}

async fn provider(path: &Path) -> KvRedbProvider {
    let config = HashMap::from([("path".to_string(), path.display().to_string())]);
    let config = RedbConfig::from_link(&config, &HashMap::new()).expect("config");
    let p = KvRedbProvider::default();
    p.add_link(COMPONENT, "default", config).await.expect("link");
    p
}

/// The value written under key number `i`: 48 KiB that depend on `i`, so a torn or misplaced
/// write shows.
fn value_for(i: u64) -> Bytes {
    let seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Bytes::from((0..48 * 1024u64).map(|j| (seed.wrapping_add(j * 31) >> 7) as u8).collect::<Vec<u8>>())
}

/// One report line of the child, flushed at once. It starts on a fresh line, whatever the test
/// harness printed before.
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n{line}").and_then(|()| out.flush()).expect("stdout");
}

/// Child mode: write until killed. Each line is printed only after its write committed.
async fn child(path: &Path) {
    let p = provider(path).await;
    let started = Instant::now();
    for i in 0u64.. {
        p.set(cx(), "crash".into(), format!("key-{i:06}"), value_for(i)).await.unwrap().expect("set");
        report(&format!("COMMITTED key-{i:06}"));
        let n = p.increment(cx(), "crash".into(), "counter".into(), 1).await.unwrap().expect("increment");
        report(&format!("COUNTER {n}"));
        if i % 10 == 0 {
            // A batch transaction too: three keys, all or none.
            let items = (0..3).map(|j| (format!("batch-{i:06}-{j}"), value_for(i * 10 + j))).collect();
            p.set_many(cx(), "crash".into(), items).await.unwrap().expect("set_many");
            report(&format!("BATCH {i:06}"));
        }
        // Never outlive a parent that died without killing us.
        assert!(started.elapsed() < Duration::from_secs(120), "crash child was never killed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_survive_sigkill() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&path)).await;
        return;
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.redb");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    // Lines arrive on a thread so the wait below can time out.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => lines.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if lines.iter().filter(|l| l.starts_with("COMMITTED ")).count() >= KILL_AFTER {
            // Let it run on for a varying moment, so the kill lands at a different point of the
            // loop each run (mid-commit, mid-batch, between writes).
            let jitter = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() % 40);
            std::thread::sleep(Duration::from_millis(u64::from(jitter)));
            // std's kill is SIGKILL on Unix: no destructors, no clean close of the database.
            child.kill().expect("kill child");
            killed = true;
            break;
        }
    }
    if !killed {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait child");
    // Whatever the child printed before it died is still in the pipe.
    stdout_reader.join().expect("stdout reader");
    lines.extend(rx.try_iter());
    let child_stderr = stderr_reader.join().unwrap_or_default();
    assert!(killed, "child stopped before committing {KILL_AFTER} writes; status {status:?}; stderr:\n{child_stderr}");
    assert_eq!(status.signal(), Some(9), "child was not killed by SIGKILL: {status:?}; stderr:\n{child_stderr}");

    let committed: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("COMMITTED key-"))
        .map(|n| n.parse().expect("key number"))
        .collect();
    let last_counter: u64 = lines.iter().filter_map(|l| l.strip_prefix("COUNTER ")).map(|n| n.parse().expect("counter")).max().unwrap_or(0);
    let batches: Vec<u64> = lines.iter().filter_map(|l| l.strip_prefix("BATCH ")).map(|n| n.parse().expect("batch")).collect();
    assert!(committed.len() >= KILL_AFTER);
    eprintln!("child killed after {} committed keys, counter {last_counter}, {} batches", committed.len(), batches.len());
    assert_eq!(committed, (0..committed.len() as u64).collect::<Vec<_>>(), "keys reported out of order");

    // The file opens cleanly with plain redb (recovering from the unclean stop) and passes a
    // full integrity check.
    {
        let mut db = redb::Database::create(&path).expect("database opens after SIGKILL");
        assert!(db.check_integrity().expect("integrity check"), "integrity check had to repair the file");
    }

    let p = provider(&path).await;
    for &i in &committed {
        let got = p.get(cx(), "crash".into(), format!("key-{i:06}")).await.unwrap().expect("get");
        assert!(got.as_ref() == Some(&value_for(i)), "committed key-{i:06} lost or damaged after SIGKILL");
    }
    // The counter was incremented after every reported key; it is at least the last value the
    // child saw (one more increment may have committed before its line was printed).
    let counter = p.get(cx(), "crash".into(), "counter".into()).await.unwrap().expect("get counter");
    let counter: u64 = counter.and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()).expect("counter is a number");
    assert!(counter >= last_counter && counter <= last_counter + 1, "counter {counter}, child last saw {last_counter}");
    for &i in &batches {
        let keys: Vec<String> = (0..3).map(|j| format!("batch-{i:06}-{j}")).collect();
        let got = p.get_many(cx(), "crash".into(), keys).await.unwrap().expect("get_many");
        for (j, entry) in got.into_iter().enumerate() {
            let (_, v) = entry.unwrap_or_else(|| panic!("batch {i} item {j} lost"));
            assert!(v == value_for(i * 10 + j as u64), "batch {i} item {j} damaged");
        }
    }
    // Any key the child wrote is either whole or absent: never a partial value.
    let listed = p.list_keys(cx(), "crash".into(), None).await.unwrap().expect("list");
    for key in listed.keys.iter().filter_map(|k| k.strip_prefix("key-")) {
        let i: u64 = key.parse().expect("key number");
        let got = p.get(cx(), "crash".into(), format!("key-{key}")).await.unwrap().expect("get");
        assert!(got.as_ref() == Some(&value_for(i)), "key-{key} is torn");
    }
    // And the database takes new writes.
    p.set(cx(), "crash".into(), "after".into(), Bytes::from_static(b"ok")).await.unwrap().expect("write after crash");
    assert_eq!(p.get(cx(), "crash".into(), "after".into()).await.unwrap(), Ok(Some(Bytes::from_static(b"ok"))));
}
