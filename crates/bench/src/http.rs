//! The HTTP path against a plain Wasm runtime: `components/hello` (wasi:http imports only)
//! served by the lattice's built-in HTTP server and by `wasmtime serve`, both driven by the same
//! closed-loop load generator with the same number of keep-alive connections. The api's own
//! routes (`/healthz`, a stored thumbnail) through the pipeline lattice are measured with the
//! same generator, next to them.
//!
//! The api itself cannot run under `wasmtime serve`: it imports wasi:keyvalue, wasi:blobstore,
//! wasmcloud:messaging and wasi:config, which `wasmtime serve` does not offer.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

use crate::stats::{median, percentile};

/// Requests/s and latency of one path, medians over the repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests that failed (connection errors, non-200), over all repetitions.
    pub errors: usize,
}

/// One measured path: what it is, and its load figures.
pub struct PathLoad {
    pub label: String,
    pub load: Load,
}

pub struct HttpRow {
    pub connections: usize,
    pub seconds: f64,
    pub reps: usize,
    pub lattice: Load,
    pub wasmtime: Load,
    pub wasmtime_version: String,
    /// The api's routes through the pipeline lattice (when it was given).
    pub api: Vec<PathLoad>,
}

/// `wasmtime serve` on a free port, stopped when dropped.
pub struct WasmtimeServe {
    child: Child,
    pub addr: SocketAddr,
}

impl WasmtimeServe {
    /// Starts `wasmtime serve` on `component` and waits (up to 60 s: it compiles the component
    /// first) until `GET /` answers 200.
    pub fn start(wasmtime: &Path, component: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(wasmtime)
            .arg("serve")
            .arg("--addr")
            .arg(addr.to_string())
            // The wasm32-wasip2 standard library imports wasi:cli (environment, exit, stdio).
            .arg("-Scli")
            .arg(component)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {} serve", wasmtime.display()))?;
        let mut serve = WasmtimeServe { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = serve.child.try_wait()? {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                bail!("wasmtime serve exited ({status}) before answering: {output}");
            }
            if get_once(addr, "/").ok() == Some(200) {
                return Ok(serve);
            }
            if Instant::now() > deadline {
                bail!("wasmtime serve on {addr} did not answer 200 within 60 s (log: {})", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET on a new connection; its status.
fn get_once(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut client = Connection { reader: BufReader::new(stream) };
    client.get(addr, path)
}

/// A keep-alive HTTP/1.1 connection that reads each reply whole (Content-Length or chunked).
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection { reader: BufReader::new(stream) })
    }

    /// Sends one GET and reads its reply; the status. The connection stays usable unless the
    /// server said `connection: close` (then an error, so the caller opens a new one).
    fn get(&mut self, addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
        write!(self.reader.get_mut(), "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP/1.1 status line: {line:?}"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            match name.as_str() {
                "content-length" => length = Some(value.parse::<usize>().context("bad content-length")?),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value == "close",
                _ => {}
            }
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).context("bad chunk size")?;
                let mut chunk = vec![0u8; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0u8; length.context("a reply with neither content-length nor chunked framing")?];
            self.reader.read_exact(&mut body)?;
        }
        ensure!(!close, "the server closed the connection");
        Ok(status)
    }
}

/// `connections` clients, each sending GET `path` back to back on its own keep-alive
/// connection for `duration`: requests/s and the latency of each request.
fn load_once(addr: SocketAddr, path: &str, connections: usize, duration: Duration) -> anyhow::Result<(f64, Vec<f64>, usize)> {
    let started = Instant::now();
    let deadline = started + duration;
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let path = path.to_string();
            std::thread::spawn(move || {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                let mut connection = None;
                while Instant::now() < deadline {
                    let client = match connection.as_mut() {
                        Some(c) => c,
                        None => match Connection::open(addr) {
                            Ok(c) => connection.insert(c),
                            Err(_) => {
                                errors += 1;
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        },
                    };
                    let sent = Instant::now();
                    match client.get(addr, &path) {
                        Ok(200) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            connection = None;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for client in clients {
        let (l, e) = client.join().map_err(|_| anyhow::anyhow!("a load client panicked"))?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((latencies.len() as f64 / elapsed, latencies, errors))
}

/// Runs `reps` measurements of each target in turn (a short warm-up first), alternating which
/// goes first, so both see the same machine noise.
fn measure(targets: &[(SocketAddr, String)], connections: usize, duration: Duration, reps: usize) -> anyhow::Result<Vec<Load>> {
    for (addr, path) in targets {
        load_once(*addr, path, connections, Duration::from_millis(500))?;
    }
    let mut rates = vec![Vec::new(); targets.len()];
    let mut p50s = vec![Vec::new(); targets.len()];
    let mut p99s = vec![Vec::new(); targets.len()];
    let mut errors = vec![0usize; targets.len()];
    for rep in 0..reps {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.rotate_left(rep % targets.len());
        for i in order {
            let (addr, path) = &targets[i];
            let (per_s, latencies, failed) = load_once(*addr, path, connections, duration)?;
            ensure!(!latencies.is_empty(), "no request to http://{addr}{path} answered 200 ({failed} failed)");
            rates[i].push(per_s);
            p50s[i].push(percentile(&latencies, 50.0).unwrap_or(f64::NAN));
            p99s[i].push(percentile(&latencies, 99.0).unwrap_or(f64::NAN));
            errors[i] += failed;
        }
    }
    Ok((0..targets.len())
        .map(|i| Load {
            per_s: median(&rates[i]).unwrap_or(f64::NAN),
            p50_ms: median(&p50s[i]).unwrap_or(f64::NAN),
            p99_ms: median(&p99s[i]).unwrap_or(f64::NAN),
            errors: errors[i],
        })
        .collect())
}

/// What the section is given: the bench lattice's HTTP address (hello behind the built-in
/// server), wasmtime and the hello component, and optionally the pipeline lattice's api.
pub struct Setup {
    pub lattice_http: SocketAddr,
    pub wasmtime: PathBuf,
    pub hello_wasm: PathBuf,
    pub log_dir: PathBuf,
    /// The pipeline lattice's api, and a stored thumbnail's path on it.
    pub api: Option<(SocketAddr, String)>,
}

pub const CONNECTIONS: usize = 16;

pub fn run(setup: &Setup, quick: bool) -> anyhow::Result<HttpRow> {
    let (reps, seconds) = if quick { (1, 1.0) } else { (5, 3.0) };
    let duration = Duration::from_secs_f64(seconds);
    let wasmtime_version = Command::new(&setup.wasmtime)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "wasmtime: unknown version".into());
    let serve = WasmtimeServe::start(&setup.wasmtime, &setup.hello_wasm, &setup.log_dir.join("bench-wasmtime-serve.log"))?;
    let mut targets = vec![(setup.lattice_http, "/".to_string()), (serve.addr, "/".to_string())];
    let mut labels = Vec::new();
    if let Some((api, thumb)) = &setup.api {
        targets.push((*api, "/healthz".to_string()));
        labels.push("api `GET /healthz` (built-in HTTP server -> api component)".to_string());
        targets.push((*api, thumb.clone()));
        labels.push("api `GET /images/{id}/thumb` (-> api -> blobstore-fs provider over wRPC)".to_string());
    }
    let loads = measure(&targets, CONNECTIONS, duration, reps)?;
    drop(serve);
    Ok(HttpRow {
        connections: CONNECTIONS,
        seconds,
        reps,
        lattice: loads[0],
        wasmtime: loads[1],
        wasmtime_version,
        api: labels.into_iter().zip(loads[2..].iter()).map(|(label, load)| PathLoad { label, load: *load }).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-connection server that answers each request with `replies` in turn.
    fn serve(replies: Vec<&'static str>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            for reply in replies {
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                    line.clear();
                }
                reader.get_mut().write_all(reply.as_bytes()).expect("write");
            }
        });
        addr
    }

    #[test]
    fn replies_are_read_whole_by_length_and_by_chunks_on_one_connection() {
        let addr = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        ]);
        let mut c = Connection::open(addr).expect("connect");
        assert_eq!(c.get(addr, "/").expect("length"), 200);
        assert_eq!(c.get(addr, "/").expect("chunked"), 200);
        assert_eq!(c.get(addr, "/").expect("404"), 404);
        assert!(c.get(addr, "/").is_err(), "a closing reply must make the caller reconnect");
    }

    #[test]
    fn a_reply_without_framing_is_an_error() {
        let addr = serve(vec!["HTTP/1.1 200 OK\r\n\r\nok"]);
        let mut c = Connection::open(addr).expect("connect");
        let err = c.get(addr, "/").expect_err("no framing");
        assert!(err.to_string().contains("neither content-length nor chunked"), "{err}");
    }
}
