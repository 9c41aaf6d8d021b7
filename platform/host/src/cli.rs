//! Command-line flags and environment variables of the host launcher.
//!
//! The variable names are the ones `wash up` sets for a host it starts (`WASMCLOUD_LATTICE`,
//! `WASMCLOUD_CTL_HOST`, `WASMCLOUD_LABEL_<key>`, ...), so `wash up --host-path` can run this
//! binary exactly as it runs an upstream wasmCloud host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use nkeys::KeyPair;
use url::Url;
use wasmcloud_core::logging::Level;
use wasmcloud_host::wasmbus::{Features, HostConfig};

use crate::creds;

/// Prefix of the environment variables that carry host labels (`WASMCLOUD_LABEL_zone=edge`).
pub const LABEL_ENV_PREFIX: &str = "WASMCLOUD_LABEL_";

#[derive(Debug, Parser)]
#[command(
    name = "pixelbus-host",
    version,
    about = "A wasmCloud v1 host (wasmcloud-host library) for pixelbus lattices"
)]
pub struct Args {
    /// Lattice this host joins
    #[arg(long, env = "WASMCLOUD_LATTICE", default_value = "default")]
    pub lattice: String,

    /// NATS host for both control and RPC connections (overridden by --ctl-host / --rpc-host)
    #[arg(long, env = "WASMCLOUD_NATS_HOST", default_value = "127.0.0.1")]
    pub nats_host: String,
    /// NATS port for both control and RPC connections
    #[arg(long, env = "WASMCLOUD_NATS_PORT", default_value_t = 4222)]
    pub nats_port: u16,

    /// NATS host for the control interface connection
    #[arg(long, env = "WASMCLOUD_CTL_HOST")]
    pub ctl_host: Option<String>,
    #[arg(long, env = "WASMCLOUD_CTL_PORT")]
    pub ctl_port: Option<u16>,
    #[arg(long, env = "WASMCLOUD_CTL_JWT", hide_env_values = true)]
    pub ctl_jwt: Option<String>,
    #[arg(long, env = "WASMCLOUD_CTL_SEED", hide_env_values = true)]
    pub ctl_seed: Option<String>,
    /// NATS credentials file for the control connection
    #[arg(long, env = "WASMCLOUD_CTL_CREDSFILE")]
    pub ctl_credsfile: Option<PathBuf>,
    #[arg(long, env = "WASMCLOUD_CTL_TLS", default_value_t = false)]
    pub ctl_tls: bool,
    #[arg(long, env = "WASMCLOUD_CTL_TOPIC_PREFIX", default_value = "wasmbus.ctl")]
    pub ctl_topic_prefix: String,

    /// NATS host for the RPC (wRPC) connection
    #[arg(long, env = "WASMCLOUD_RPC_HOST")]
    pub rpc_host: Option<String>,
    #[arg(long, env = "WASMCLOUD_RPC_PORT")]
    pub rpc_port: Option<u16>,
    #[arg(long, env = "WASMCLOUD_RPC_JWT", hide_env_values = true)]
    pub rpc_jwt: Option<String>,
    #[arg(long, env = "WASMCLOUD_RPC_SEED", hide_env_values = true)]
    pub rpc_seed: Option<String>,
    /// NATS credentials file for the RPC connection
    #[arg(long, env = "WASMCLOUD_RPC_CREDSFILE")]
    pub rpc_credsfile: Option<PathBuf>,
    #[arg(long, env = "WASMCLOUD_RPC_TLS", default_value_t = false)]
    pub rpc_tls: bool,
    /// Timeout for wRPC invocations, in milliseconds
    #[arg(long, env = "WASMCLOUD_RPC_TIMEOUT_MS", default_value_t = 2000)]
    pub rpc_timeout_ms: u64,

    /// JetStream domain of the lattice's NATS (needed across leaf nodes)
    #[arg(long, env = "WASMCLOUD_JS_DOMAIN")]
    pub js_domain: Option<String>,

    /// Host nkey seed (a server key); a fresh one is generated when absent
    #[arg(long, env = "WASMCLOUD_HOST_SEED", hide_env_values = true)]
    pub host_seed: Option<String>,

    /// Host label `key=value`; repeatable. `WASMCLOUD_LABEL_<key>=<value>` works too.
    #[arg(long = "label", short = 'l', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Allow `file://` component and provider references
    #[arg(long, env = "WASMCLOUD_ALLOW_FILE_LOAD", default_value_t = false)]
    pub allow_file_load: bool,
    /// Allow `latest` OCI tags
    #[arg(long, env = "WASMCLOUD_OCI_ALLOW_LATEST", default_value_t = false)]
    pub oci_allow_latest: bool,
    /// OCI registries that may be reached over plain HTTP (comma separated)
    #[arg(long, env = "WASMCLOUD_OCI_ALLOWED_INSECURE", value_delimiter = ',')]
    pub oci_allowed_insecure: Vec<String>,

    /// error, warn, info, debug or trace
    #[arg(long, env = "WASMCLOUD_LOG_LEVEL", default_value = "info", value_parser = parse_level)]
    pub log_level: Level,
    #[arg(long, env = "WASMCLOUD_STRUCTURED_LOGGING_ENABLED", default_value_t = false)]
    pub structured_logging: bool,

    /// Delay before a provider is stopped after shutdown is requested, in milliseconds
    #[arg(long, env = "WASMCLOUD_PROV_SHUTDOWN_DELAY_MS", default_value_t = 300)]
    pub provider_shutdown_delay_ms: u64,
    /// Longest a single component invocation may run, in milliseconds
    #[arg(long, env = "WASMCLOUD_MAX_EXECUTION_TIME_MS", default_value_t = 600_000)]
    pub max_execution_time_ms: u64,
    /// Seconds between host heartbeats (default 30). wadm notices a host that died without
    /// saying so by its missing heartbeats, so faster beats mean faster failover.
    #[arg(long, env = "WASMCLOUD_HEARTBEAT_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_interval_seconds: Option<u64>,
    /// Largest linear memory a component instance may grow to, in bytes
    #[arg(long, env = "WASMCLOUD_MAX_LINEAR_MEMORY")]
    pub max_linear_memory: Option<u32>,

    /// Ask the lattice's config service for registry credentials at start
    #[arg(long, env = "WASMCLOUD_CONFIG_SERVICE", default_value_t = false)]
    pub config_service: bool,
    #[arg(long, env = "WASMCLOUD_POLICY_TOPIC")]
    pub policy_topic: Option<String>,
    #[arg(long, env = "WASMCLOUD_SECRETS_TOPIC")]
    pub secrets_topic: Option<String>,

    /// Experimental host features, comma separated (e.g. builtin-http-server,builtin-messaging-nats)
    #[arg(long, env = "WASMCLOUD_EXPERIMENTAL_FEATURES", value_delimiter = ',')]
    pub experimental_features: Vec<String>,
}

fn parse_label(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("label `{raw}` is not of the form key=value")),
    }
}

fn parse_level(raw: &str) -> Result<Level, String> {
    match raw.to_ascii_lowercase().as_str() {
        "error" => Ok(Level::Error),
        "warn" | "warning" => Ok(Level::Warn),
        "info" => Ok(Level::Info),
        "debug" => Ok(Level::Debug),
        "trace" => Ok(Level::Trace),
        "critical" => Ok(Level::Critical),
        other => Err(format!(
            "unknown log level `{other}` (expected error, warn, info, debug or trace)"
        )),
    }
}

/// Labels given as `WASMCLOUD_LABEL_<key>=<value>` variables, as `wash up --label` passes them.
pub fn labels_from_env(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.into_iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(LABEL_ENV_PREFIX)?;
            (!key.is_empty()).then(|| (key.to_string(), value))
        })
        .collect()
}

/// The JWT and key a NATS connection authenticates with, from inline values or a creds file.
fn nats_auth(
    what: &str,
    jwt: Option<&String>,
    seed: Option<&String>,
    credsfile: Option<&PathBuf>,
) -> anyhow::Result<(Option<String>, Option<Arc<KeyPair>>)> {
    let (jwt, seed) = match (credsfile, jwt, seed) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read {what} credentials file {}", path.display()))?;
            let creds = creds::parse(&text)
                .with_context(|| format!("invalid {what} credentials file {}", path.display()))?;
            (Some(creds.jwt), Some(creds.seed))
        }
        (None, jwt, seed) => (jwt.cloned(), seed.cloned()),
    };
    let key = seed
        .map(|s| KeyPair::from_seed(&s).with_context(|| format!("invalid {what} nkey seed")))
        .transpose()?
        .map(Arc::new);
    if jwt.is_some() && key.is_none() {
        bail!("{what} NATS JWT given without a seed to sign with");
    }
    Ok((jwt, key))
}

fn nats_url(host: &str, port: u16, tls: bool) -> anyhow::Result<Url> {
    let scheme = if tls { "tls" } else { "nats" };
    Url::parse(&format!("{scheme}://{host}:{port}"))
        .with_context(|| format!("invalid NATS address {host}:{port}"))
}

impl Args {
    /// Builds the wasmbus host configuration. `env_labels` come from [`labels_from_env`]; flags
    /// win over variables for the same key.
    pub fn host_config(&self, env_labels: Vec<(String, String)>) -> anyhow::Result<HostConfig> {
        let ctl_host = self.ctl_host.as_deref().unwrap_or(&self.nats_host);
        let ctl_port = self.ctl_port.unwrap_or(self.nats_port);
        let rpc_host = self.rpc_host.as_deref().unwrap_or(&self.nats_host);
        let rpc_port = self.rpc_port.unwrap_or(self.nats_port);
        let (ctl_jwt, ctl_key) = nats_auth(
            "control",
            self.ctl_jwt.as_ref(),
            self.ctl_seed.as_ref(),
            self.ctl_credsfile.as_ref(),
        )?;
        let (rpc_jwt, rpc_key) = nats_auth(
            "RPC",
            self.rpc_jwt.as_ref(),
            self.rpc_seed.as_ref(),
            self.rpc_credsfile.as_ref(),
        )?;
        let host_key = self
            .host_seed
            .as_deref()
            .map(|s| KeyPair::from_seed(s).context("invalid host seed"))
            .transpose()?
            .map(Arc::new);

        let mut labels: HashMap<String, String> = env_labels.into_iter().collect();
        labels.extend(self.labels.iter().cloned());

        let experimental_features: Features = self
            .experimental_features
            .iter()
            .map(|name| Features::from(name.trim()))
            .sum();

        let mut config = HostConfig {
            ctl_nats_url: nats_url(ctl_host, ctl_port, self.ctl_tls)?,
            ctl_jwt,
            ctl_key,
            ctl_tls: self.ctl_tls,
            ctl_topic_prefix: self.ctl_topic_prefix.clone(),
            rpc_nats_url: nats_url(rpc_host, rpc_port, self.rpc_tls)?,
            rpc_timeout: Duration::from_millis(self.rpc_timeout_ms),
            rpc_jwt,
            rpc_key,
            rpc_tls: self.rpc_tls,
            lattice: self.lattice.as_str().into(),
            js_domain: self.js_domain.clone(),
            labels,
            host_key,
            provider_shutdown_delay: Some(Duration::from_millis(self.provider_shutdown_delay_ms)),
            allow_file_load: self.allow_file_load,
            enable_structured_logging: self.structured_logging,
            log_level: self.log_level.clone(),
            config_service_enabled: self.config_service,
            secrets_topic_prefix: self.secrets_topic.clone(),
            max_execution_time: Duration::from_millis(self.max_execution_time_ms),
            experimental_features,
            heartbeat_interval: self.heartbeat_interval_seconds.map(Duration::from_secs),
            ..HostConfig::default()
        };
        config.oci_opts.allow_latest = self.oci_allow_latest;
        config.oci_opts.allowed_insecure = self.oci_allowed_insecure.clone();
        config.policy_service_config.policy_topic = self.policy_topic.clone();
        if let Some(bytes) = self.max_linear_memory {
            config.max_linear_memory = bytes;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["pixelbus-host"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("flags parse")
    }

    #[test]
    fn labels_come_from_env_and_flags_win() {
        let env = labels_from_env([
            ("WASMCLOUD_LABEL_zone".to_string(), "cloud".to_string()),
            ("WASMCLOUD_LABEL_".to_string(), "ignored".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        assert_eq!(env, vec![("zone".to_string(), "cloud".to_string())]);
        let config = args(&["--label", "zone=edge", "-l", "tier=small"])
            .host_config(env)
            .expect("config builds");
        assert_eq!(config.labels.get("zone").map(String::as_str), Some("edge"));
        assert_eq!(config.labels.get("tier").map(String::as_str), Some("small"));
    }

    #[test]
    fn heartbeat_interval_is_read_in_seconds() {
        let config = args(&["--heartbeat-interval-seconds", "2"]).host_config(vec![]).expect("config builds");
        assert_eq!(config.heartbeat_interval, Some(Duration::from_secs(2)));
        assert_eq!(args(&[]).host_config(vec![]).expect("config builds").heartbeat_interval, None);
        assert!(Args::try_parse_from(["pixelbus-host", "--heartbeat-interval-seconds", "0"]).is_err());
    }

    #[test]
    fn bad_label_is_rejected() {
        let err = Args::try_parse_from(["pixelbus-host", "--label", "novalue"])
            .expect_err("label without = fails");
        assert!(err.to_string().contains("key=value"), "{err}");
    }

    #[test]
    fn ctl_and_rpc_default_to_the_nats_address() {
        let config = args(&["--nats-host", "127.0.0.1", "--nats-port", "4999", "--rpc-port", "5000"])
            .host_config(Vec::new())
            .expect("config builds");
        assert_eq!(config.ctl_nats_url.as_str(), "nats://127.0.0.1:4999");
        assert_eq!(config.rpc_nats_url.as_str(), "nats://127.0.0.1:5000");
    }

    #[test]
    fn jwt_without_seed_is_an_error() {
        let err = args(&["--ctl-jwt", "eyJabc"])
            .host_config(Vec::new())
            .expect_err("jwt alone is refused");
        assert!(err.to_string().contains("without a seed"), "{err}");
    }

    #[test]
    fn unreadable_creds_file_names_the_file() {
        let err = args(&["--rpc-credsfile", "/nonexistent/pixelbus.creds"])
            .host_config(Vec::new())
            .expect_err("missing creds file is refused");
        assert!(format!("{err:#}").contains("/nonexistent/pixelbus.creds"), "{err:#}");
    }

    #[test]
    fn unknown_log_level_is_rejected() {
        let err = Args::try_parse_from(["pixelbus-host", "--log-level", "loud"])
            .expect_err("bad level fails");
        assert!(err.to_string().contains("unknown log level"), "{err}");
    }
}
