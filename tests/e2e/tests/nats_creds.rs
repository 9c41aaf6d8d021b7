//! NATS credentials beyond localhost: a hub nats-server in operator mode (JWT auth, as a shared
//! or remote NATS would run) and a second pixelbus lattice brought up by
//! `scripts/up --leaf-of nats-leaf://… --nats-creds user.creds`. The lattice's own server stays
//! on 127.0.0.1 without auth; only its leaf link leaves the machine, and it authenticates.
//!
//! Checked: scripts/up refuses a missing or malformed creds file before starting anything; the
//! hub refuses clients without credentials and with credentials it does not trust; with the
//! user's creds, a hub client submits a job over NATS (`pixelbus.jobs.submit`, answered by the
//! leaf lattice's api) and receives its `pixelbus.events.done` event, and an HTTP upload to the
//! leaf lattice is announced on the hub too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context as _};
use futures::StreamExt as _;
use pixelbus_e2e::natsauth::Trust;
use pixelbus_e2e::{free_port, get, pixelbus_home, post_as, repo_root, test_jpeg, wait_for, Lattice};
use serde_json::Value;

/// A hub nats-server in operator mode, stopped (by its PID) when dropped.
struct Hub {
    child: Child,
    client_port: u16,
    leaf_port: u16,
    monitor_port: u16,
}

impl Hub {
    fn start(trust: &Trust, dir: &Path) -> anyhow::Result<Self> {
        let (client_port, leaf_port, monitor_port) = (free_port()?, free_port()?, free_port()?);
        let config = dir.join("hub.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 leafnodes {{\n    listen: 127.0.0.1:{leaf_port}\n}}\n{}",
                trust.server_config()
            ),
        )?;
        let log = std::fs::File::create(dir.join("hub.log"))?;
        let child = Command::new(pixelbus_home().join("bin/nats-server"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting the hub nats-server")?;
        let hub = Hub { child, client_port, leaf_port, monitor_port };
        wait_for("the hub nats-server", Duration::from_secs(20), || {
            Ok(get(&hub.monitor("healthz")).ok().filter(|(status, _, _)| *status == 200).map(|_| ()))
        })?;
        Ok(hub)
    }

    fn monitor(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.monitor_port)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// Leaf connections the hub has, by account.
    fn leafs(&self) -> anyhow::Result<Vec<Value>> {
        let (status, _, body) = get(&self.monitor("leafz"))?;
        ensure!(status == 200, "/leafz -> {status}");
        let leafz: Value = serde_json::from_slice(&body)?;
        Ok(leafz["leafs"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/up` with these arguments, for the checks that fail before anything starts.
fn up_refused(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(repo_root().join("scripts/up"))
        .arg("--no-build")
        .args(args)
        .env("PIXELBUS_LATTICE", "pbtest-refused")
        .env("PIXELBUS_STATE", dir.join("refused-state"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(!out.status.success(), "scripts/up {args:?} succeeded");
    ensure!(!dir.join("refused-state/wash").exists(), "scripts/up {args:?} started something before refusing");
    Ok(stderr)
}

pub fn a_leaf_lattice_authenticates_to_its_hub(_main: &Lattice) -> anyhow::Result<()> {
    let dir: PathBuf = pixelbus_home().join("state").join(format!("pbtest-{}-creds", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let trust = Trust::generate("pixelbus-test")?;
    let creds = dir.join("user.creds");
    trust.write_creds(&creds)?;
    let stranger = Trust::generate("stranger")?;
    let stranger_creds = dir.join("stranger.creds");
    stranger.write_creds(&stranger_creds)?;

    // Bad creds files are refused up front, by name.
    let missing = dir.join("missing.creds");
    let err = up_refused(&dir, &["--leaf-of", "nats-leaf://127.0.0.1:7422", "--nats-creds", &missing.to_string_lossy()])?;
    ensure!(err.contains("not found"), "missing creds: {err}");
    let junk = dir.join("junk.creds");
    std::fs::write(&junk, "not a creds file\n")?;
    let err = up_refused(&dir, &["--leaf-of", "nats-leaf://127.0.0.1:7422", "--nats-creds", &junk.to_string_lossy()])?;
    ensure!(err.contains("not a NATS credentials file"), "junk creds: {err}");
    let err = up_refused(&dir, &["--nats-creds", &creds.to_string_lossy()])?;
    ensure!(err.contains("--leaf-of"), "creds without a leaf URL: {err}");

    let hub = Hub::start(&trust, &dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let anonymous = async_nats::ConnectOptions::new().connect(hub.url()).await;
        ensure!(anonymous.is_err(), "the hub let a client in without credentials");
        let untrusted = async_nats::ConnectOptions::with_credentials_file(&stranger_creds).await?.connect(hub.url()).await;
        ensure!(untrusted.is_err(), "the hub let in a user of an account it does not trust");
        anyhow::Ok(())
    })?;

    let leaf_url = format!("nats-leaf://127.0.0.1:{}", hub.leaf_port);
    let leaf = Lattice::up_with(
        &format!("pbtest-{}-leaf", std::process::id()),
        &["--leaf-of", &leaf_url, "--nats-creds", &creds.to_string_lossy()],
    )?;
    let conf = std::fs::read_to_string(leaf.state_dir.join("nats.conf"))?;
    ensure!(conf.contains(&leaf_url) && conf.contains("credentials:"), "the leaf's nats.conf: {conf}");
    let app_account = trust.app.key.public_key();
    wait_for("the leaf link to the hub", Duration::from_secs(30), || {
        Ok(hub.leafs()?.iter().any(|l| l["account"] == app_account.as_str()).then_some(()))
    })?;

    let (nats_id, http_id) = runtime.block_on(async {
        let hub_client = async_nats::ConnectOptions::with_credentials_file(&creds)
            .await?
            .connect(hub.url())
            .await
            .context("the user's creds were refused by the hub")?;
        let mut done = hub_client.subscribe("pixelbus.events.done").await?;
        hub_client.flush().await?;

        // Over NATS, from the hub: answered by the leaf lattice's api.
        let request = async_nats::Request::new()
            .payload(test_jpeg(800, 600).into())
            .timeout(Some(Duration::from_secs(30)));
        let reply = hub_client.send_request("pixelbus.jobs.submit", request).await.context("no reply to a submit sent on the hub")?;
        let accepted: Value = serde_json::from_slice(&reply.payload)?;
        let nats_id = accepted["id"].as_str().with_context(|| format!("submit over the hub: {accepted}"))?.to_string();

        // Over HTTP, to the leaf lattice: its done event is seen on the hub.
        let token = format!("Bearer {}", leaf.api_token);
        let (status, accepted) = post_as(&format!("{}/images", leaf.base_url()), "image/jpeg", &test_jpeg(640, 480), Some(&token))?;
        ensure!(status == 202, "upload to the leaf lattice -> {status}: {accepted}");
        let http_id = accepted["id"].as_str().context("no id")?.to_string();

        let mut waiting: Vec<&str> = vec![&nats_id, &http_id];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !waiting.is_empty() {
            let msg = tokio::time::timeout_at(deadline, done.next())
                .await
                .with_context(|| format!("no done event on the hub for {waiting:?} within 60 s"))?
                .context("the hub subscription ended")?;
            let job: Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
            waiting.retain(|id| job["id"] != *id);
        }
        anyhow::Ok((nats_id, http_id))
    })?;

    let (status, _, body) = get(&format!("{}/images/{nats_id}", leaf.base_url()))?;
    ensure!(status == 200, "the job submitted over the hub is not on the leaf lattice: {status}");
    let job: Value = serde_json::from_slice(&body)?;
    ensure!(job["status"] == "done", "job {nats_id}: {job}");
    let leaf_port = leaf.nats_port;
    drop(leaf);
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "nats creds: hub in operator mode refused anonymous and untrusted clients; leaf lattice (127.0.0.1:{leaf_port}, no auth) \
         linked with user creds; job {nats_id} submitted on the hub and {http_id} uploaded to the leaf both announced done on the hub"
    );
    Ok(())
}
