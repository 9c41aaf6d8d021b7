//! Fault cases, run against the lattice brought up in `lattice.rs`.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use pixelbus_e2e::{get, parse_pid_file, pid_alive, post, test_jpeg, wait_for, Lattice};
use serde_json::Value;

/// Jobs in flight when the host is killed.
const JOBS: usize = 200;
/// Clients uploading them at once.
const UPLOADERS: usize = 8;

/// A process as it was started: program, arguments, environment.
pub(crate) struct Launch {
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

pub(crate) fn launch_of(pid: u32) -> anyhow::Result<Launch> {
    let split = |bytes: Vec<u8>| -> Vec<String> {
        bytes.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
    };
    let argv = split(std::fs::read(format!("/proc/{pid}/cmdline")).context("host cmdline")?);
    let env = split(std::fs::read(format!("/proc/{pid}/environ")).context("host environ")?)
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    ensure!(!argv.is_empty(), "host {pid} has an empty command line");
    Ok(Launch { argv, env })
}

/// The process group of `pid` (wash starts the host as a group leader; its providers inherit it).
fn process_group(pid: u32) -> anyhow::Result<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("host stat")?;
    // Fields after the parenthesised command name: state, ppid, pgrp, ...
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("odd /proc stat")?;
    after.split_whitespace().nth(2).and_then(|g| g.parse().ok()).context("no pgrp in /proc stat")
}

pub(crate) fn job(lattice: &Lattice, id: &str) -> anyhow::Result<Value> {
    let (status, _, body) = get(&format!("{}/images/{id}", lattice.base_url()))?;
    ensure!(status == 200, "GET /images/{id} -> {status}");
    Ok(serde_json::from_slice(&body)?)
}

/// Copies both hosts' logs next to the scripts' logs ($PIXELBUS_HOME/logs): the lattice's state
/// directory is purged when the tests end.
fn keep_logs(lattice: &Lattice, replacement: &std::path::Path) {
    let Some(logs) = lattice.state_dir.parent().and_then(|s| s.parent()).map(|home| home.join("logs")) else {
        return;
    };
    for (from, name) in [(lattice.state_dir.join("wash/wasmcloud.log"), "faults-killed-host.log"), (replacement.to_path_buf(), "faults-replacement-host.log")] {
        if !from.exists() {
            continue;
        }
        match std::fs::copy(&from, logs.join(name)) {
            Ok(_) => eprintln!("kept {} as {}", from.display(), logs.join(name).display()),
            Err(e) => eprintln!("could not keep {}: {e}", from.display()),
        }
    }
}

/// Every message stored in PIXELBUS_EVENTS on `subject`: payload and headers.
pub(crate) fn stored_events(lattice: &Lattice, subject: &str) -> anyhow::Result<Vec<(Vec<u8>, Option<async_nats::HeaderMap>)>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        use futures::StreamExt as _;
        let nats = async_nats::connect(format!("127.0.0.1:{}", lattice.nats_port)).await?;
        let js = async_nats::jetstream::new(nats);
        let mut stream = js.get_stream("PIXELBUS_EVENTS").await.context("events stream")?;
        let stored = stream.info().await?.state.messages as usize;
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                filter_subject: subject.into(),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await?;
        let mut found = Vec::new();
        let mut batch = consumer.fetch().max_messages(stored.max(1)).expires(Duration::from_secs(2)).messages().await?;
        while let Some(msg) = batch.next().await {
            let msg = msg.map_err(|e| anyhow::anyhow!("{e}"))?;
            found.push((msg.payload.to_vec(), msg.headers.clone()));
        }
        Ok(found)
    })
}

/// Done events per job id, read back from the PIXELBUS_EVENTS stream.
pub(crate) fn done_events(lattice: &Lattice) -> anyhow::Result<HashMap<String, usize>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (payload, _) in stored_events(lattice, "pixelbus.events.done")? {
        let job: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if let Some(id) = job["id"].as_str() {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    Ok(counts)
}

/// Starts `launch` again, detached (setsid, like wash does), so it is not this test's child:
/// scripts/down stops it by the pid file the caller rewrites, and init reaps it. Returns its pid.
pub(crate) fn start_detached(launch: &Launch, log: &std::path::Path) -> anyhow::Result<u32> {
    let script = format!("setsid \"$@\" >'{}' 2>&1 </dev/null & echo $!", log.display());
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .args(&launch.argv)
        .env_clear()
        .envs(launch.env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {} again", launch.argv[0]))?;
    String::from_utf8_lossy(&out.stdout).trim().parse().context("no pid for the started process")
}

/// Checks a done job's variants: as many files as variants in the blob dir (retries overwrote,
/// never added), each served, decoding at its recorded size.
pub(crate) fn variants_intact(lattice: &Lattice, id: &str, job: &Value) -> anyhow::Result<()> {
    let base = lattice.base_url();
    let blobs = lattice.state_dir.join("blobs/pixelbus-variants");
    let variants = job["variants"].as_array().context("no variants")?;
    ensure!(variants.len() == 3, "job {id}: {} variants", variants.len());
    let files = std::fs::read_dir(blobs.join(id)).map(|d| d.count()).unwrap_or(0);
    ensure!(files == variants.len(), "job {id}: {files} variant files for {} variants", variants.len());
    for v in variants {
        let url = format!("{base}{}", v["url"].as_str().context("variant url")?);
        let (status, _, bytes) = get(&url)?;
        ensure!(status == 200, "variant {v} -> {status}");
        let image = image::load_from_memory(&bytes).with_context(|| format!("variant {v} does not decode"))?;
        ensure!(
            u64::from(image.width()) == v["width"].as_u64().unwrap_or(0) && u64::from(image.height()) == v["height"].as_u64().unwrap_or(0),
            "variant {v} decodes as {}x{}",
            image.width(),
            image.height()
        );
    }
    Ok(())
}

/// Kills the host (and the providers it runs: the whole process group, as a machine dying would)
/// while jobs are in flight, starts a new host the same way, and checks every job completes with
/// each variant written exactly once and intact.
pub fn host_killed_mid_load_loses_no_job(lattice: &Lattice) -> anyhow::Result<()> {
    let pid_file = lattice.state_dir.join("wash/wasmcloud.pid");
    let host = parse_pid_file(&std::fs::read_to_string(&pid_file).context("host pid file")?).context("host pid")?;
    let launch = launch_of(host)?;
    let group = process_group(host)?;
    ensure!(group == host, "the host {host} does not lead its process group ({group}); its providers would outlive it");

    let base = lattice.base_url();
    // Uploads from several clients at once, so they arrive faster than the thumbnailers drain
    // them (one client at a time let the thumbnailers keep up).
    let images: Vec<Vec<u8>> = (0..JOBS).map(|i| test_jpeg(1200 + i as u32, 900)).collect();
    let uploads: Vec<anyhow::Result<String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = images
            .chunks(JOBS.div_ceil(UPLOADERS))
            .map(|chunk| {
                let url = format!("{base}/images");
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|image| {
                            let (status, accepted) = post(&url, "image/jpeg", image)?;
                            ensure!(status == 202, "upload -> {status}: {accepted}");
                            Ok(accepted["id"].as_str().context("no id")?.to_string())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|_| vec![Err(anyhow::anyhow!("uploader panicked"))])).collect()
    });
    let host_log = lattice.state_dir.join("replacement-host.log");
    let ids: Vec<String> = match uploads.into_iter().collect::<anyhow::Result<_>>() {
        Ok(ids) => ids,
        Err(e) => {
            // Before any kill: the host's log says where the upload stalled.
            keep_logs(lattice, &host_log);
            return Err(e.context("uploading the jobs before the kill"));
        }
    };
    // Kill as soon as the uploads are in: the thumbnailers are busy, most jobs still queued.
    let killed = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status()?;
    ensure!(killed.success(), "kill -KILL -{group} failed");
    wait_for("the host to die", Duration::from_secs(10), || Ok((!pid_alive(host)).then_some(())))?;
    // Done events outlive the host (JetStream): what finished before the kill.
    let done_before_kill = done_events(lattice)?;
    let finished_before = ids.iter().filter(|id| done_before_kill.contains_key(*id)).count();
    ensure!(finished_before < JOBS, "all {JOBS} jobs finished before the kill; nothing was in flight");

    // A replacement host: same program, arguments and environment, a new host id.
    let replacement = start_detached(&launch, &host_log).context("the replacement host")?;
    // scripts/down stops what the pid file names.
    std::fs::write(&pid_file, format!("{{\"pid\": {replacement}}}"))?;

    // wadm reaps the dead host (missed heartbeats), places the app on the new one; JetStream
    // redelivers what the dead host held once its ack wait passes.
    let host_tail = || {
        let log = std::fs::read_to_string(&host_log).unwrap_or_default();
        log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    };
    // Whatever fails from here on, both hosts' logs are kept for the report.
    let verify = || -> anyhow::Result<()> {
        let mut jobs = Vec::with_capacity(JOBS);
        for id in &ids {
            let finished = wait_for(&format!("job {id} to finish after the host kill"), Duration::from_secs(240), || {
                Ok(job(lattice, id).ok().filter(|j| matches!(j["status"].as_str(), Some("done" | "failed"))))
            });
            match finished {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    let status = lattice.wash(&["app", "status", "pixelbus"]).unwrap_or_default();
                    bail!("{e:#}\nwash app status:\n{status}\nreplacement host log (last lines, newest first):\n{}", host_tail());
                }
            }
        }

        // Jobs can finish while wadm is still placing the app on the new host (the thumbnailer runs
        // before every api link is back); scripts/up returns once the lattice runs the manifest
        // again, and from there every variant must be served.
        let settled = lattice.script("up").arg("--no-build").status().context("scripts/up after the host kill")?;
        ensure!(settled.success(), "the lattice did not settle on the replacement host: {settled}");

        let mut lost = 0;
        for (id, job) in ids.iter().zip(&jobs) {
            if job["status"] != "done" {
                lost += 1;
                eprintln!("job {id} did not complete: {job}");
                continue;
            }
            variants_intact(lattice, id, job).with_context(|| format!("replacement host log, newest first:\n{}", host_tail()))?;
        }
        let events = done_events(lattice)?;
        let duplicated = ids.iter().filter(|id| events.get(*id).copied().unwrap_or(0) > 1).count();
        let without_event = ids.iter().filter(|id| !events.contains_key(*id)).count();
        println!(
            "host kill: {JOBS} jobs submitted, {finished_before} done before the kill, {} completed, {lost} lost, \
             {duplicated} with duplicate done events, {without_event} without a done event",
            JOBS - lost
        );
        if lost > 0 {
            bail!("{lost} of {JOBS} jobs did not complete after the host was killed");
        }
        ensure!(duplicated == 0, "{duplicated} jobs published more than one done event");
        Ok(())
    };
    let verified = verify();
    if verified.is_err() {
        keep_logs(lattice, &host_log);
    }
    verified
}

/// `scripts/down` then `scripts/up` (the whole lattice: nats-server, wadm, host, providers)
/// keeps what was finished: the job record, the listing and every blob, byte for byte.
pub fn lattice_restart_keeps_finished_jobs(lattice: &Lattice) -> anyhow::Result<()> {
    let base = lattice.base_url();
    let (status, accepted) = post(&format!("{base}/images"), "image/jpeg", &test_jpeg(800, 600))?;
    ensure!(status == 202, "upload -> {status}: {accepted}");
    let id = accepted["id"].as_str().context("no id")?.to_string();
    let before = wait_for(&format!("job {id} to finish"), Duration::from_secs(60), || {
        Ok(job(lattice, &id).ok().filter(|j| j["status"] == "done"))
    })?;
    let blob_urls: Vec<String> = before["variants"]
        .as_array()
        .context("no variants")?
        .iter()
        .filter_map(|v| v["url"].as_str().map(|u| format!("{base}{u}")))
        .chain([format!("{base}/images/{id}/original")])
        .collect();
    let blobs_before = blob_urls.iter().map(|u| get(u).map(|(_, _, bytes)| bytes)).collect::<anyhow::Result<Vec<_>>>()?;

    let down = lattice.script("down").status().context("scripts/down")?;
    ensure!(down.success(), "scripts/down failed: {down}");
    let up = lattice.script("up").arg("--no-build").status().context("scripts/up")?;
    ensure!(up.success(), "scripts/up after scripts/down failed: {up}");

    let after = job(lattice, &id)?;
    ensure!(after == before, "the job record changed over the restart:\nbefore {before}\nafter  {after}");
    for (url, was) in blob_urls.iter().zip(&blobs_before) {
        let (status, _, bytes) = get(url)?;
        ensure!(status == 200 && bytes == *was, "{url} -> {status}, {} bytes (was {})", bytes.len(), was.len());
    }
    let (status, _, listing) = get(&format!("{base}/images"))?;
    ensure!(status == 200 && String::from_utf8_lossy(&listing).contains(&id), "the listing lost {id} ({status})");
    println!("lattice restart: job {id} and its {} blobs served unchanged", blob_urls.len());
    Ok(())
}
