//! Slow and abandoned uploads, run against the lattice brought up in `lattice.rs`: a client that
//! stops sending, or drips a byte now and then, must not hold an api instance for as long as it
//! likes (the host runs at most `instances` of them: 50 in wadm.yaml). The api answers 408 after
//! `body_idle_timeout_ms` of silence (10 s) or when the body is not in by `body_deadline_ms`
//! (60 s), and an upload sent while more clients stall than there are instances goes through.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{bearer, get, post, read_http_reply, test_jpeg, Lattice};
use serde_json::Value;

use crate::pipeline::wait_done;

/// More stalled uploads than the api has instances.
const STALLED: usize = 60;
/// Uploads that send half their body and hang up.
const ABANDONED: usize = 10;
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const DEADLINE: Duration = Duration::from_secs(60);
const DRIP_EVERY: Duration = Duration::from_secs(2);

/// Sends an upload's head (announcing `length` body bytes) and the first `sent` of them.
fn start_upload(port: u16, image: &[u8], length: usize, sent: usize) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let authorization = bearer().map(|b| format!("Authorization: {b}\r\n")).unwrap_or_default();
    write!(stream, "POST /images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n{authorization}Content-Length: {length}\r\n\r\n")?;
    stream.write_all(&image[..sent.min(image.len())])?;
    stream.flush()?;
    Ok(stream)
}

/// Ids of the newest 100 jobs.
fn newest_ids(lattice: &Lattice) -> anyhow::Result<Vec<String>> {
    let (status, _, body) = get(&format!("{}/images?limit=100", lattice.base_url()))?;
    ensure!(status == 200, "GET /images -> {status}");
    let listing: Value = serde_json::from_slice(&body)?;
    Ok(listing["jobs"].as_array().into_iter().flatten().filter_map(|j| j["id"].as_str().map(str::to_string)).collect())
}

pub fn slow_and_abandoned_uploads_are_let_go(lattice: &Lattice) -> anyhow::Result<()> {
    let port = lattice.http_port;
    let image = test_jpeg(640, 480);
    let jobs_before = newest_ids(lattice)?;

    // A drip: one byte every 2 s, well inside the idle timeout, for longer than the deadline.
    // It starts before the stalled uploads, so it has an api instance from its first byte: one
    // that queued behind them for an instance started its deadline ~10 s late (seen in CI: cut
    // at 70 s).
    let (drip_started, drip_is_on) = std::sync::mpsc::channel();
    let dripper = {
        let image = image.clone();
        std::thread::spawn(move || -> anyhow::Result<(u16, Value, Duration)> {
            let started = Instant::now();
            let mut stream = start_upload(port, &image, image.len(), 1)?;
            let _ = drip_started.send(());
            stream.set_read_timeout(Some(DRIP_EVERY))?;
            for byte in &image[1..] {
                let mut probe = [0u8; 1];
                match stream.peek(&mut probe) {
                    Ok(_) => break, // a reply (or the server closing): stop dripping
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(e) => return Err(e).context("dripping"),
                }
                if stream.write_all(std::slice::from_ref(byte)).is_err() {
                    break;
                }
                ensure!(started.elapsed() < DEADLINE * 2, "still dripping after {:?}: no deadline", started.elapsed());
            }
            let (status, body) = read_http_reply(&mut stream, Duration::from_secs(30))?;
            Ok((status, body, started.elapsed()))
        })
    };

    drip_is_on.recv_timeout(Duration::from_secs(10)).context("the drip did not start")?;
    // The host hands the drip to an api instance once it has read the head: a whole request of
    // our own (the job list) served after that makes it very likely the drip went first (the
    // bound on its cut below allows for when it did not).
    newest_ids(lattice)?;
    let stalled_at = Instant::now();
    let mut stalled = (0..STALLED)
        .map(|_| start_upload(port, &image, image.len(), image.len() / 3))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("opening the stalled uploads")?;
    for _ in 0..ABANDONED {
        let stream = start_upload(port, &image, image.len(), image.len() / 2)?;
        stream.shutdown(std::net::Shutdown::Both)?;
    }

    // An upload sent while the stalled ones are open still goes through (measured: it does not
    // wait for them; the host serves it alongside).
    let sent = Instant::now();
    let (status, accepted) = post(&format!("{}/images", lattice.base_url()), "image/jpeg", &image)?;
    let waited = sent.elapsed();
    ensure!(status == 202, "an upload sent while {STALLED} stalled ones were open -> {status}: {accepted}");
    let id = accepted["id"].as_str().context("no id")?;
    ensure!(wait_done(lattice, id)?["status"] == "done", "the upload sent meanwhile did not finish");

    let mut after = Vec::with_capacity(STALLED);
    for stream in &mut stalled {
        let (status, body) = read_http_reply(stream, IDLE_TIMEOUT * 3)?;
        ensure!(status == 408 && body["error"]["code"] == "request_timeout", "a stalled upload got {status}: {body}");
        after.push(stalled_at.elapsed());
    }
    let slowest = after.iter().max().copied().unwrap_or_default();
    ensure!(slowest < IDLE_TIMEOUT * 3, "a stalled upload was answered only after {slowest:?}");

    let (drip_status, drip_body, drip_took) = dripper.join().map_err(|_| anyhow::anyhow!("dripper panicked"))??;
    ensure!(drip_status == 408 && drip_body["error"]["code"] == "request_timeout", "the drip got {drip_status}: {drip_body}");
    // Upper bound: the deadline plus the idle timeout, plus one more for the unlikely case that
    // the drip still queued behind the stalled uploads for an instance (freed after the idle
    // timeout). Without a deadline it would still drip at 2 × DEADLINE (checked above).
    ensure!(drip_took >= DEADLINE && drip_took < DEADLINE + IDLE_TIMEOUT * 2, "the drip was cut after {drip_took:?}");

    let new_jobs: Vec<String> = newest_ids(lattice)?.into_iter().filter(|j| !jobs_before.contains(j)).collect();
    ensure!(new_jobs == [id.to_string()], "new jobs {new_jobs:?}; only the complete upload ({id}) should have made one");
    println!(
        "slow uploads: {STALLED} stalled answered 408 within {:.1} s, {ABANDONED} abandoned, an upload sent meanwhile accepted in {:.1} s, \
         a drip of a byte per {} s cut at {:.1} s (408), 1 job created",
        slowest.as_secs_f64(),
        waited.as_secs_f64(),
        DRIP_EVERY.as_secs(),
        drip_took.as_secs_f64()
    );
    Ok(())
}
