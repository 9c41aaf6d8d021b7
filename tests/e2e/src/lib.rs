//! A real local lattice for tests, brought up with the project's own `scripts/up` under its own
//! lattice name, ports and state dir (so it runs beside a user's `scripts/up`), and stopped with
//! `scripts/down --purge` when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

pub mod natsauth;

/// Root of the repository (this crate sits at `tests/e2e`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the scripts keep tools and state (`PIXELBUS_HOME`, default `~/.cache/pixelbus`).
pub fn pixelbus_home() -> PathBuf {
    std::env::var("PIXELBUS_HOME").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/pixelbus")
    })
}

/// The API token of the lattice under test (`scripts/up` generates one per lattice), set by
/// [`Lattice::up`]: the request helpers below send it with every upload and delete.
static API_TOKEN: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// The token the helpers send, if a lattice set one.
pub fn api_token() -> Option<String> {
    API_TOKEN.read().map(|t| t.clone()).unwrap_or_default()
}

/// `Authorization` header value for the lattice's token.
pub fn bearer() -> Option<String> {
    api_token().map(|t| format!("Bearer {t}"))
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to bind an ephemeral port")?;
    Ok(listener.local_addr()?.port())
}

pub struct Lattice {
    pub name: String,
    pub nats_port: u16,
    pub http_port: u16,
    pub state_dir: PathBuf,
    /// The bearer token `scripts/up` generated for this lattice's API.
    pub api_token: String,
    stopped: bool,
}

impl Lattice {
    /// Runs `scripts/up --no-build` (components and providers must be built: `scripts/test`
    /// does that first) and returns once the app is Deployed and /healthz answers 200.
    pub fn up() -> anyhow::Result<Self> {
        let lattice = Self::up_with(&format!("pbtest-{}", std::process::id()), &[])?;
        if let Ok(mut slot) = API_TOKEN.write() {
            *slot = Some(lattice.api_token.clone());
        }
        Ok(lattice)
    }

    /// A further lattice named `name` (free ports, its own state dir), brought up by
    /// `scripts/up --no-build <extra_args>`. Its token is in `api_token`, not the shared one.
    pub fn up_with(name: &str, extra_args: &[&str]) -> anyhow::Result<Self> {
        let root = repo_root();
        for artifact in ["build/api.wasm", "build/thumbnailer.wasm", "build/providers/keyvalue-nats.par.gz"] {
            if !root.join(artifact).is_file() {
                bail!("{artifact} is missing: run scripts/build (or scripts/test) first");
            }
        }
        let mut lattice = Lattice {
            state_dir: pixelbus_home().join("state").join(name),
            name: name.to_string(),
            nats_port: free_port()?,
            http_port: free_port()?,
            api_token: String::new(),
            stopped: false,
        };
        let status = lattice
            .script("up")
            .arg("--no-build")
            .args(extra_args)
            .status()
            .context("failed to run scripts/up")?;
        if !status.success() {
            bail!("scripts/up failed ({status}); see the output above");
        }
        let token_file = lattice.state_dir.join("api-token");
        let token = std::fs::read_to_string(&token_file).with_context(|| format!("scripts/up left no API token in {}", token_file.display()))?;
        lattice.api_token = token.trim().to_string();
        Ok(lattice)
    }

    /// A lattice something else brought up (one zone of `scripts/up --topology cloud-edge`),
    /// stopped with `scripts/down --purge` when dropped like any other. Its token is read from
    /// its state dir.
    pub fn attach(name: &str, nats_port: u16, http_port: u16, state_dir: PathBuf) -> anyhow::Result<Self> {
        let token_file = state_dir.join("api-token");
        let token = std::fs::read_to_string(&token_file).with_context(|| format!("no API token in {}", token_file.display()))?;
        Ok(Lattice { name: name.to_string(), nats_port, http_port, state_dir, api_token: token.trim().to_string(), stopped: false })
    }

    /// A command running one of the project's scripts against this lattice.
    pub fn script(&self, name: &str) -> Command {
        let mut cmd = Command::new(repo_root().join("scripts").join(name));
        cmd.env("PIXELBUS_LATTICE", &self.name)
            .env("PIXELBUS_NATS_PORT", self.nats_port.to_string())
            .env("PIXELBUS_HTTP_PORT", self.http_port.to_string())
            .env("PIXELBUS_STATE", &self.state_dir)
            // The lattice's own generated token, whatever the caller's environment says.
            .env_remove("PIXELBUS_API_TOKEN")
            // Fast failover for the fault cases: 2 s host heartbeats, and wadm forgets a host
            // after 10 s without one (defaults: 30 s and 70 s).
            .env("WASMCLOUD_HEARTBEAT_INTERVAL", "2")
            .env("WADM_CLEANUP_INTERVAL", "10");
        cmd
    }

    /// `wash <args>` pointed at this lattice, returning stdout.
    pub fn wash(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .script("wash")
            .args(args)
            .output()
            .context("failed to run wash")?;
        if !out.status.success() {
            bail!(
                "wash {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Copies this lattice's logs (host, nats-server, wadm, and any a test wrote into the state
    /// dir) to `$PIXELBUS_HOME/logs/<prefix>-<file>`, since the state dir is purged when the
    /// tests end, and returns the warnings and errors among the host's last lines, for a
    /// failure message.
    pub fn keep_logs(&self, prefix: &str) -> String {
        let logs = pixelbus_home().join("logs");
        let mut files: Vec<PathBuf> =
            ["wasmcloud.log", "nats.log", "wadm.log"].iter().map(|f| self.state_dir.join("wash").join(f)).collect();
        if let Ok(dir) = std::fs::read_dir(&self.state_dir) {
            files.extend(dir.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "log")));
        }
        let mut kept = Vec::new();
        for from in files.iter().filter(|f| f.is_file()) {
            let name = from.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let to = logs.join(format!("{prefix}-{name}"));
            if std::fs::copy(from, &to).is_ok() {
                kept.push(to.display().to_string());
            }
        }
        let host_log = std::fs::read_to_string(self.state_dir.join("wash/wasmcloud.log")).unwrap_or_default();
        let lines: Vec<&str> = host_log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("logs kept: {}\nlast host warnings and errors:\n{tail}", kept.join(", "))
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// PIDs of the processes `scripts/up` started (from wash's pid files).
    pub fn pids(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join("wash")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|s| parse_pid_file(&s))
            .collect()
    }

    /// Runs `scripts/down --purge`.
    pub fn down(&mut self) -> anyhow::Result<()> {
        self.stopped = true;
        let status = self
            .script("down")
            .arg("--purge")
            .status()
            .context("failed to run scripts/down")?;
        if !status.success() {
            bail!("scripts/down failed ({status})");
        }
        Ok(())
    }
}

impl Drop for Lattice {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.down();
        }
    }
}

/// A pid file's PID: a bare number (nats.pid, wadm.pid) or wash's JSON `{"pid": N, ...}`
/// (wasmcloud.pid).
pub fn parse_pid_file(text: &str) -> Option<u32> {
    text.trim().parse().ok().or_else(|| {
        serde_json::from_str::<serde_json::Value>(text).ok()?["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
    })
}

/// True while a process with this PID exists.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `check` every 100 ms until it returns `Ok(Some(v))` or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_err = None;
    loop {
        match check() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(err) => last_err = Some(err),
        }
        if Instant::now() >= deadline {
            match last_err {
                Some(err) => bail!("timed out after {timeout:?} waiting for {what}: {err:#}"),
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An HTTP client that returns 4xx/5xx responses instead of errors.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POST `body` to `url` with a content-type and the lattice's token, returning status and
/// parsed JSON body.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> anyhow::Result<(u16, serde_json::Value)> {
    post_as(url, content_type, body, bearer().as_deref())
}

/// [`post`] with the `Authorization` header given (none: not sent).
pub fn post_as(url: &str, content_type: &str, body: &[u8], authorization: Option<&str>) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut req = http().post(url).header("content-type", content_type);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let mut resp = req.send(body).with_context(|| format!("POST {url}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.body_mut().read_to_vec()?;
    let json = serde_json::from_slice(&bytes)
        .with_context(|| format!("POST {url} -> {status}: body is not JSON: {}", String::from_utf8_lossy(&bytes)))?;
    Ok((status, json))
}

/// DELETE `url` with the lattice's token, returning status and parsed JSON body.
pub fn delete(url: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    delete_as(url, bearer().as_deref())
}

/// [`delete`] with the `Authorization` header given (none: not sent).
pub fn delete_as(url: &str, authorization: Option<&str>) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut req = http().delete(url);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let mut resp = req.call().with_context(|| format!("DELETE {url}"))?;
    let status = resp.status().as_u16();
    let json = serde_json::from_slice(&resp.body_mut().read_to_vec()?)?;
    Ok((status, json))
}

/// Sends only the head of a POST declaring a `content_length` body, then reads the reply: a
/// server that refuses from the declared size answers without the body ever being sent.
pub fn post_head_only(port: u16, path: &str, content_length: u64) -> anyhow::Result<(u16, serde_json::Value)> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let authorization = bearer().map(|b| format!("Authorization: {b}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n{authorization}Content-Length: {content_length}\r\n\r\n"
    )?;
    read_http_reply(&mut stream, Duration::from_secs(10)).context("before the body was sent")
}

/// Reads one HTTP reply (status and JSON body) off a raw connection, waiting at most `within`
/// for each read; it returns once the head and the body its `content-length` announces are in
/// (the connection may stay open).
pub fn read_http_reply(stream: &mut std::net::TcpStream, within: Duration) -> anyhow::Result<(u16, serde_json::Value)> {
    use std::io::Read;
    stream.set_read_timeout(Some(within))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).context("no reply in time")?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head in the reply")?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status")?;
    Ok((status, serde_json::from_str(body).with_context(|| format!("body is not JSON: {body}"))?))
}

pub fn test_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let edge = if (x / 37 + y / 23) % 2 == 0 { 40 } else { 0 };
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, (128 + edge) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    // An in-memory encode of a valid buffer cannot fail.
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg);
    out.into_inner()
}

/// GET `url`, returning status, content-type and body.
pub fn get(url: &str) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let mut resp = http().get(url).call().with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.body_mut().read_to_vec()?;
    Ok((status, content_type, body))
}
