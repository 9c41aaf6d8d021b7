//! Cold start: from running `wash app deploy wadm.yaml` on a lattice with nothing deployed to
//! the first `200` from `GET /healthz`, repeated (each time the app is undeployed and deleted
//! first, and the lattice is waited on until it runs none of it).
//!
//! wasmCloud 1.x has no scale to zero: it keeps a deployed component compiled and instantiates
//! it per request, so the first request after a deploy is the only cold one, and it is compared
//! with warm requests to the same route.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

use crate::stats::median;

/// A lattice `scripts/bench` brought up, and the rendered manifest `scripts/up` deployed on it.
pub struct Deployment {
    pub lattice: String,
    /// NATS port of the lattice's control interface.
    pub nats_port: u16,
    pub http: SocketAddr,
    pub manifest: PathBuf,
    pub app: String,
    /// The host's compile cache (`PIXELBUS_COMPILE_CACHE_DIR`, this lattice's own): given, every
    /// repetition deploys once with it emptied (the host compiles) and once with it kept.
    pub compile_cache: Option<PathBuf>,
}

/// Median ms wasmtime 38 (the host's engine version, cranelift, parallel compilation on every
/// core) takes to compile `component` to machine code: the part of a deploy that grows with the
/// component's size. The host compiles each component on every deploy (its engine has no
/// compile cache, or an empty one).
pub fn compile_ms(component: &std::path::Path, reps: usize) -> anyhow::Result<f64> {
    let bytes = std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).async_support(true).epoch_interruption(true);
    let engine = wasmtime::Engine::new(&config)?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let started = Instant::now();
        wasmtime::component::Component::new(&engine, &bytes).with_context(|| format!("compiling {}", component.display()))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(&times).unwrap_or(f64::NAN))
}

/// Cold starts with the compile cache kept (the host loads machine code it compiled before),
/// and, when the lattice's cache directory is known, with it emptied first (the host compiles).
pub struct ColdStart {
    pub cached: ColdStartRow,
    pub compiling: Option<ColdStartRow>,
}

pub struct ColdStartRow {
    pub reps: usize,
    /// `wash app deploy` started -> first 200, median ms.
    pub deploy_to_200_ms: f64,
    /// `wash app deploy` started -> it exited (wadm accepted the manifest), median ms.
    pub deploy_command_ms: f64,
    /// The round trip of that first answered request, and of warm requests after it, median ms.
    pub first_request_ms: f64,
    pub warm_request_ms: f64,
}

impl Deployment {
    fn wash(&self, args: &[&str]) -> Command {
        let mut command = Command::new("wash");
        command
            .args(args)
            .env("WASMCLOUD_LATTICE", &self.lattice)
            .env("WASMCLOUD_CTL_HOST", "127.0.0.1")
            .env("WASMCLOUD_CTL_PORT", self.nats_port.to_string())
            .stdin(Stdio::null());
        command
    }

    fn wash_output(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.wash(args).output().with_context(|| format!("running wash {}", args.join(" ")))?;
        ensure!(
            out.status.success(),
            "wash {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Components and providers running on the lattice's hosts.
    fn running(&self) -> anyhow::Result<usize> {
        let inventory: serde_json::Value = serde_json::from_str(&self.wash_output(&["get", "inventory", "-o", "json"])?)
            .context("wash get inventory -o json is not JSON")?;
        let count = |key: &str| -> usize {
            inventory["inventories"]
                .as_array()
                .map(|hosts| hosts.iter().map(|h| h[key].as_array().map_or(0, Vec::len)).sum())
                .unwrap_or(0)
        };
        Ok(count("components") + count("providers"))
    }

    /// Waits (up to 120 s) until wadm reports the app Deployed: the api answers before the
    /// providers have started, and an undeploy while wadm still starts them leaves some running.
    fn wait_deployed(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let list: serde_json::Value = serde_json::from_str(&self.wash_output(&["app", "list", "-o", "json"])?)
                .context("wash app list -o json is not JSON")?;
            let status = list["applications"]
                .as_array()
                .and_then(|apps| apps.iter().find(|a| a["name"] == self.app.as_str()))
                .and_then(|app| app["status"].as_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if status == "deployed" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} not Deployed 120 s after wash app deploy (status {status:?})", self.app);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Undeploys and deletes the app, then waits until nothing of it runs and /healthz is gone.
    fn remove(&self) -> anyhow::Result<()> {
        // Either may find nothing to do (not deployed, or already deleted).
        let _ = self.wash(&["app", "undeploy", &self.app]).output();
        let _ = self.wash(&["app", "delete", &self.app]).output();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = self.running()?;
            if left == 0 && get_healthz(self.http, Duration::from_millis(500)).ok() != Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{left} components and providers still running 120 s after `wash app undeploy {}`", self.app);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One `GET /healthz` on a new connection: the status, or an error (refused, reset, timed out).
fn get_healthz(addr: SocketAddr, timeout: Duration) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let line = std::str::from_utf8(&head)?;
    let status = line.strip_prefix("HTTP/1.1 ").context("not an HTTP/1.1 reply")?;
    Ok(status.trim().parse()?)
}

/// One deploy: ms until `wash app deploy` exited, ms until the first 200, and that request's own
/// round trip in ms.
fn deploy_once(deployment: &Deployment) -> anyhow::Result<(f64, f64, f64)> {
    let manifest = deployment.manifest.to_string_lossy().into_owned();
    let started = Instant::now();
    let mut deploy = deployment
        .wash(&["app", "deploy", &manifest])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting wash app deploy")?;
    let mut command_ms = None;
    let deadline = started + Duration::from_secs(60);
    loop {
        if command_ms.is_none() {
            if let Some(status) = deploy.try_wait()? {
                if !status.success() {
                    let mut err = String::new();
                    if let Some(mut stderr) = deploy.stderr.take() {
                        let _ = stderr.read_to_string(&mut err);
                    }
                    bail!("wash app deploy {manifest} failed: {err}");
                }
                command_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let sent = Instant::now();
        if get_healthz(deployment.http, Duration::from_millis(500)).ok() == Some(200) {
            let first_ms = started.elapsed().as_secs_f64() * 1000.0;
            let request_ms = sent.elapsed().as_secs_f64() * 1000.0;
            let status = deploy.wait()?;
            ensure!(status.success(), "wash app deploy {manifest} failed after the app answered");
            let command_ms = command_ms.unwrap_or_else(|| started.elapsed().as_secs_f64() * 1000.0);
            return Ok((command_ms, first_ms, request_ms));
        }
        if Instant::now() > deadline {
            let _ = deploy.kill();
            bail!("no 200 from GET http://{}/healthz within 60 s of wash app deploy", deployment.http);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[derive(Default)]
struct Samples {
    command: Vec<f64>,
    first: Vec<f64>,
    request: Vec<f64>,
    warm: Vec<f64>,
}

impl Samples {
    fn row(&self) -> ColdStartRow {
        ColdStartRow {
            reps: self.first.len(),
            deploy_to_200_ms: median(&self.first).unwrap_or(f64::NAN),
            deploy_command_ms: median(&self.command).unwrap_or(f64::NAN),
            first_request_ms: median(&self.request).unwrap_or(f64::NAN),
            warm_request_ms: median(&self.warm).unwrap_or(f64::NAN),
        }
    }
}

/// Removes the app, optionally empties the compile cache, deploys, and records the timings.
fn measure(deployment: &Deployment, empty_cache: bool, into: &mut Samples) -> anyhow::Result<f64> {
    deployment.remove()?;
    if empty_cache {
        if let Some(dir) = &deployment.compile_cache {
            // The host's cache creates its directories again when it writes.
            match std::fs::remove_dir_all(dir.join("modules")) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).with_context(|| format!("emptying the compile cache {}", dir.display())),
            }
        }
    }
    let (command_ms, first_ms, request_ms) = deploy_once(deployment)?;
    for _ in 0..20 {
        let sent = Instant::now();
        ensure!(get_healthz(deployment.http, Duration::from_secs(5))? == 200, "a warm GET /healthz was not 200");
        into.warm.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    deployment.wait_deployed()?;
    into.command.push(command_ms);
    into.first.push(first_ms);
    into.request.push(request_ms);
    Ok(first_ms)
}

/// `reps` cold starts of each kind, interleaved; leaves the app deployed (and settled) as it
/// found it.
pub fn run(deployment: &Deployment, quick: bool) -> anyhow::Result<ColdStart> {
    let reps = if quick { 1 } else { 5 };
    let (mut cached, mut compiling) = (Samples::default(), Samples::default());
    for rep in 1..=reps {
        if deployment.compile_cache.is_some() {
            let ms = measure(deployment, true, &mut compiling)?;
            eprintln!("    cold start {rep}/{reps}, compile cache emptied: first 200 {ms:.0} ms after wash app deploy");
        }
        let ms = measure(deployment, false, &mut cached)?;
        eprintln!("    cold start {rep}/{reps}, compile cache kept: first 200 {ms:.0} ms after wash app deploy");
    }
    Ok(ColdStart { cached: cached.row(), compiling: deployment.compile_cache.as_ref().map(|_| compiling.row()) })
}
