//! A component that traps on one input, run against the lattice brought up in `lattice.rs`:
//! the lattice is moved to a manifest whose thumbnailer is `build/test/thumbnailer-traps.wasm`
//! (a wasm `unreachable` on any original holding PIXELBUS-TRAP) and whose work queue gives up
//! after 3 quick deliveries, then moved back to wadm.yaml. The trapping job must end `failed`
//! with its work message on the dead-letter subject; every other job, sent at the same time,
//! must finish; the host must stay up.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{parse_pid_file, pid_alive, post, repo_root, test_jpeg, wait_for, Lattice};
use serde_json::Value;

use crate::faults::{job, stored_events, variants_intact};

const MARKER: &[u8] = b"PIXELBUS-TRAP";
/// Good jobs sent alongside the trapping one.
const OTHERS: usize = 20;
const MAX_DELIVER: u64 = 3;

/// wadm.yaml with the trapping thumbnailer and a short-lived work queue. Config whose content
/// differs gets its own name (wadm deletes an old version's configs by name).
fn trap_manifest(lattice: &Lattice) -> anyhow::Result<std::path::PathBuf> {
    let root = repo_root().canonicalize()?;
    let traps = root.join("build/test/thumbnailer-traps.wasm");
    ensure!(traps.is_file(), "{} is missing: run scripts/build", traps.display());
    let text = std::fs::read_to_string(root.join("wadm.yaml"))?;
    let mut manifest = text
        .replace("file://./build/thumbnailer.wasm", &format!("file://{}", traps.display()))
        .replace("file://./", &format!("file://{}/", root.display()))
        .replace("- name: pixelbus-work-consumer\n", "- name: pixelbus-work-consumer-trap-test\n");
    let (from, to) = ("max_deliver: \"10\"", format!("max_deliver: \"{MAX_DELIVER}\""));
    ensure!(manifest.contains(from), "wadm.yaml's work consumer has no {from}");
    manifest = manifest.replace(from, &to).replace("backoff_ms: \"1000,5000,15000,30000\"", "backoff_ms: \"200\"");
    ensure!(manifest.contains("thumbnailer-traps.wasm") && manifest.contains("backoff_ms: \"200\""), "could not rewrite wadm.yaml");
    let path = lattice.state_dir.join("wadm-trap.yaml");
    std::fs::write(&path, manifest)?;
    Ok(path)
}

/// A JPEG carrying the marker in a comment segment: valid, so the api accepts it.
fn trapping_jpeg() -> Vec<u8> {
    let jpeg = test_jpeg(320, 240);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&((MARKER.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Dead letters stored in PIXELBUS_EVENTS for `id`: (error header, deliveries header).
fn dead_letters(lattice: &Lattice, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for (payload, headers) in stored_events(lattice, "pixelbus.jobs.dead")? {
        let work: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if work["id"] == id {
            let header = |name: &str| headers.as_ref().and_then(|h| h.get(name)).map(|v| v.to_string()).unwrap_or_default();
            found.push((header("Dead-Letter-Error"), header("Dead-Letter-Deliveries")));
        }
    }
    Ok(found)
}

pub fn a_trapping_component_costs_one_job(lattice: &Lattice) -> anyhow::Result<()> {
    let host_pid = || -> anyhow::Result<u32> {
        parse_pid_file(&std::fs::read_to_string(lattice.state_dir.join("wash/wasmcloud.pid"))?).context("host pid")
    };
    let host = host_pid()?;
    let manifest = trap_manifest(lattice)?;
    let deployed = lattice.script("up").args(["--no-build", "--manifest"]).arg(&manifest).status()?;
    ensure!(deployed.success(), "scripts/up --manifest {} failed", manifest.display());

    let result = (|| -> anyhow::Result<()> {
        let url = format!("{}/images", lattice.base_url());
        let (status, accepted) = post(&url, "image/jpeg", &trapping_jpeg())?;
        ensure!(status == 202, "the trapping upload -> {status}: {accepted}");
        let trap_id = accepted["id"].as_str().context("no id")?.to_string();
        let others = (0..OTHERS)
            .map(|i| {
                let (status, accepted) = post(&url, "image/jpeg", &test_jpeg(800 + i as u32, 600))?;
                ensure!(status == 202, "upload -> {status}: {accepted}");
                Ok(accepted["id"].as_str().context("no id")?.to_string())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        for id in &others {
            let done = wait_for(&format!("job {id} beside the trapping one"), Duration::from_secs(120), || {
                Ok(job(lattice, id).ok().filter(|j| matches!(j["status"].as_str(), Some("done" | "failed"))))
            })?;
            ensure!(done["status"] == "done", "job {id} beside the trapping one: {done}");
            variants_intact(lattice, id, &done)?;
        }
        let failed = wait_for(&format!("the trapping job {trap_id} to end"), Duration::from_secs(120), || {
            Ok(job(lattice, &trap_id).ok().filter(|j| matches!(j["status"].as_str(), Some("done" | "failed"))))
        })?;
        ensure!(failed["status"] == "failed", "the trapping job: {failed}");
        let why = failed["error"].as_str().unwrap_or_default();
        ensure!(why.contains("pixelbus.jobs.dead"), "the trapping job failed for another reason: {failed}");
        let letters = dead_letters(lattice, &trap_id)?;
        ensure!(letters.len() == 1, "{} dead letters for the trapping job (want 1)", letters.len());
        let (error, deliveries) = &letters[0];
        ensure!(deliveries == &MAX_DELIVER.to_string(), "dead letter after {deliveries} deliveries (want {MAX_DELIVER})");
        ensure!(!error.is_empty(), "the dead letter carries no error");
        ensure!(pid_alive(host) && host_pid()? == host, "the host did not survive the trap");
        println!(
            "trapping component: 1 job trapped {deliveries} times and ended failed (dead letter error: {error:.120}), \
             {OTHERS} others sent beside it all done with intact variants, host {host} still up"
        );
        Ok(())
    })();
    // Back to wadm.yaml for the cases after this one, whatever happened.
    let restored = lattice.script("up").arg("--no-build").status()?;
    result?;
    ensure!(restored.success(), "scripts/up back to wadm.yaml failed");
    Ok(())
}
