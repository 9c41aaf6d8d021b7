//! A real `nats-server -js` for tests: on 127.0.0.1, ports the server picks itself, a temporary
//! store dir, readiness from its ports file and a connection (no fixed sleeps), and stopped by
//! PID when dropped. `restart` keeps the port
//! and the store, for tests of what survives a server restart.
//!
//! The binary is `$PIXELBUS_HOME/bin/nats-server` (installed by `scripts/setup`), or
//! `$NATS_SERVER_BIN`, or `nats-server` on the PATH.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    pub port: u16,
    /// HTTP monitoring port (`/varz`, `/connz`).
    pub monitor_port: u16,
    child: Option<Child>,
    store: tempfile::TempDir,
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var("PIXELBUS_HOME").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/pixelbus")
    });
    let installed = home.join("bin/nats-server");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("nats-server")
    }
}

/// The client and monitoring ports from a nats-server ports file.
fn parse_ports(text: &str) -> Option<(u16, u16)> {
    let port_after = |key: &str| -> Option<u16> {
        let rest = &text[text.find(key)? + key.len()..];
        let url = rest.split('"').nth(1)?;
        url.rsplit(':').next()?.parse().ok()
    };
    Some((port_after("\"nats\":[")?, port_after("\"monitoring\":[")?))
}

impl NatsServer {
    /// Starts a server on ports it picks itself (so tests running side by side never race for a
    /// port) and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let mut server = NatsServer { port: 0, monitor_port: 0, child: None, store };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts nats-server: on the known ports after a restart, else on random ones, read back
    /// from the ports file the server writes.
    fn spawn(&mut self) {
        let ports_dir = self.store.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir).expect("ports file dir");
        let (port, monitor) = if self.port == 0 { (-1, -1) } else { (i32::from(self.port), i32::from(self.monitor_port)) };
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-m", &monitor.to_string()])
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .arg("-sd")
            .arg(self.store.path().join("jetstream"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start nats-server ({}): {e}; run scripts/setup", binary().display()));
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports_file = ports_dir.join(format!("nats-server_{pid}.ports"));
        let ports = loop {
            // Written once the server listens: {"nats":["nats://127.0.0.1:N"],"monitoring":["http://127.0.0.1:M"]}
            if let Some(ports) = std::fs::read_to_string(&ports_file).ok().and_then(|text| parse_ports(&text)) {
                break ports;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("nats-server exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "nats-server wrote no ports file within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        (self.port, self.monitor_port) = ports;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Client connections the server has open now (from its `/varz` monitoring page).
    pub fn connections(&self) -> usize {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.monitor_port)).expect("monitoring port");
        let _ = stream.write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let after = text.split("\"connections\":").nth(1).expect("varz has a connections field");
        after.trim_start().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).expect("connections is a number")
    }

    /// Stops the server (it may be started again with [`NatsServer::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first so JetStream flushes its store; SIGKILL if it does not exit.
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts the server on the same port with the same JetStream store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_file_is_read() {
        let text = r#"{"nats":["nats://127.0.0.1:40123"],"monitoring":["http://127.0.0.1:40999"]}"#;
        assert_eq!(super::parse_ports(text), Some((40123, 40999)));
        assert_eq!(super::parse_ports("{}"), None);
    }
}
