//! Swapping bindings by manifest alone, run against the lattice brought up in `lattice.rs`: the
//! same component bytes redeployed with other providers (keyvalue-redb, blobstore-nats), each
//! driven through the real host by a whole job, with uploads arriving all through each swap.
//! `scripts/up` returns only once the lattice runs exactly the new manifest, so the first upload
//! after it must already land in the new bindings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{get, post, repo_root, test_jpeg, wait_for, Lattice};
use serde_json::Value;

/// Deploys `manifest` (relative to the repository) as the next version of the app, waits for it,
/// then runs one upload to `done` and returns the job id.
/// Uploads keep arriving during the swap; the app must keep accepting them.
fn deploy_and_run_a_job(lattice: &Lattice, manifest: &str) -> anyhow::Result<String> {
    let base = lattice.base_url();
    let traffic = UploadsDuringSwap::start(&base);
    let status = lattice
        .script("up")
        .args(["--no-build", "--manifest"])
        .arg(repo_root().join(manifest))
        .status()
        .context("scripts/up --manifest")?;
    let (accepted, refused) = traffic.stop();
    ensure!(status.success(), "scripts/up --manifest {manifest} failed: {status}");
    // wadm replaces a changed link by deleting the old one and putting the new one (the host
    // refuses a second target for the same link), so an upload landing in between fails; the
    // app must keep serving around those moments, and fully once scripts/up returns (below).
    println!(
        "swap to {manifest}: {accepted} uploads accepted during the swap, {} refused{}",
        refused.len(),
        refused.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
    ensure!(accepted > 0, "swap to {manifest}: no upload was accepted during the swap");
    let (status, accepted) = post(&format!("{base}/images"), "image/jpeg", &test_jpeg(320, 240))?;
    ensure!(status == 202, "{manifest}: upload -> {status}: {accepted}");
    let id = accepted["id"].as_str().context("no id")?.to_string();
    let job: Value = wait_for(&format!("{manifest}: job {id} to finish"), Duration::from_secs(90), || {
        let (status, _, body) = get(&format!("{base}/images/{id}"))?;
        ensure!(status == 200, "GET /images/{id} -> {status}");
        let job: Value = serde_json::from_slice(&body)?;
        Ok(matches!(job["status"].as_str(), Some("done" | "failed")).then_some(job))
    })?;
    ensure!(job["status"] == "done", "{manifest}: {job}");
    component_configs_present(lattice, manifest)?;
    let (status, _, thumb) = get(&format!("{base}/images/{id}/thumb"))?;
    ensure!(status == 200, "{manifest}: thumb -> {status}");
    image::load_from_memory(&thumb).with_context(|| format!("{manifest}: the thumbnail does not decode"))?;
    Ok(id)
}

/// A client uploading small images back to back, on its own thread, until stopped.
struct UploadsDuringSwap {
    stop: Arc<AtomicBool>,
    worker: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl UploadsDuringSwap {
    fn start(base: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{base}/images");
        let worker = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let image = test_jpeg(64, 48);
                let (mut accepted, mut refused) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match post(&url, "image/jpeg", &image) {
                        Ok((202, _)) => accepted += 1,
                        Ok((status, body)) => refused.push(format!("{status} {body}")),
                        Err(e) => refused.push(format!("{e:#}")),
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                (accepted, refused)
            }
        });
        Self { stop, worker }
    }

    fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.worker.join().unwrap_or_else(|_| (0, vec!["the upload thread panicked".into()]))
    }
}

/// The component configs wadm put for `manifest` are still there after the deploy settled: a
/// host started from here on (a restart, a scale-out) fetches them to start the components.
/// Every manifest names them alike with the same content, so wadm keeps one scaler for them; an
/// image reference that differed between manifests (unnormalised paths) made their scalers
/// differ, and the old version's clean-up deleted them by name after the new version's put.
fn component_configs_present(lattice: &Lattice, manifest: &str) -> anyhow::Result<()> {
    // deploy/edge.yaml gives the api a config of its own (its own work subject).
    let api = if manifest.ends_with("edge.yaml") { "edge_api" } else { "api" };
    for (component, key) in [(api, "max_bytes"), ("thumbnailer", "max_attempts")] {
        let config = format!("pixelbus-pixelbus_{component}_settings");
        let stored = lattice.wash(&["config", "get", &config]).unwrap_or_else(|e| e.to_string());
        ensure!(stored.contains(key), "after deploying {manifest}, config {config} lacks {key}: {stored}");
    }
    Ok(())
}

/// What the lattice's JetStream holds for a job: its record in keyvalue-nats, its thumbnail in
/// the blobstore-nats object store.
fn in_jetstream(lattice: &Lattice, id: &str) -> anyhow::Result<(bool, bool)> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let nats = async_nats::connect(format!("127.0.0.1:{}", lattice.nats_port)).await?;
        let js = async_nats::jetstream::new(nats);
        let record = match js.get_key_value("pixelbus-jobs").await {
            Ok(kv) => kv.get(id).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_some(),
            Err(_) => false,
        };
        let blob = match js.get_object_store("pixelbus-variants").await {
            Ok(store) => store.info(format!("{id}/thumb")).await.is_ok(),
            Err(_) => false,
        };
        Ok((record, blob))
    })
}

pub fn bindings_swap_by_manifest_alone(lattice: &Lattice) -> anyhow::Result<()> {
    // Edge: job records in redb, images as files.
    let edge = deploy_and_run_a_job(lattice, "deploy/edge.yaml")?;
    let redb = lattice.state_dir.join("keyvalue/pixelbus.redb");
    ensure!(redb.is_file(), "no redb file at {}", redb.display());
    ensure!(in_jetstream(lattice, &edge)? == (false, false), "edge job {edge} reached JetStream");
    ensure!(
        lattice.state_dir.join("blobs/pixelbus-variants").join(&edge).is_dir(),
        "edge job {edge} has no variant files"
    );

    // Cloud: job records in JetStream KV, images in JetStream object stores.
    let cloud = deploy_and_run_a_job(lattice, "deploy/cloud.yaml")?;
    ensure!(in_jetstream(lattice, &cloud)? == (true, true), "cloud job {cloud} is not in JetStream KV and object store");
    ensure!(
        !lattice.state_dir.join("blobs/pixelbus-variants").join(&cloud).exists(),
        "cloud job {cloud} wrote variant files"
    );

    // Back to the default bindings; the edge job's record lives in redb, not here. (Edge work
    // goes to its own subject: on pixelbus.jobs.work, wadm.yaml's stream, left on the server,
    // kept every edge job's work message, and a thumbnailer here restored the job from it.)
    let default = deploy_and_run_a_job(lattice, "wadm.yaml")?;
    let (status, _, _) = get(&format!("{}/images/{edge}", lattice.base_url()))?;
    ensure!(status == 404, "the edge job is visible through the default bindings: {status}");
    ensure!(!default.is_empty());
    Ok(())
}
