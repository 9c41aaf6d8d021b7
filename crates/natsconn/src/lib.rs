//! NATS connection settings for pixelbus' NATS-backed providers, read from link config (and
//! secrets for credentials), validated up front so a bad link fails with a clear message.
//!
//! | key | where | default | meaning |
//! |---|---|---|---|
//! | `cluster_uri` | config | `nats://127.0.0.1:4222` | NATS server to use (not the lattice's, necessarily) |
//! | `js_domain` | config | none | JetStream domain (leaf nodes) |
//! | `client_jwt`, `client_seed` | secrets (or config) | none | user JWT and nkey seed |
//! | `creds_file` | config | none | path of a `.creds` file on the provider's host |

use std::collections::HashMap;
use std::path::PathBuf;

use thiserror::Error;

pub const DEFAULT_CLUSTER_URI: &str = "nats://127.0.0.1:4222";

/// The keys this crate reads; providers add their own to the allowed set.
pub const CONNECTION_KEYS: &[&str] = &["cluster_uri", "js_domain", "client_jwt", "client_seed", "creds_file"];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatsSettings {
    pub cluster_uri: String,
    pub js_domain: Option<String>,
    pub jwt: Option<String>,
    pub seed: Option<String>,
    pub creds_file: Option<PathBuf>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown link config key {key:?} (known: {known})")]
    UnknownKey { key: String, known: String },
    #[error("link config {key}={value:?}: {why}")]
    BadValue { key: String, value: String, why: String },
    #[error("link config {key} is required")]
    Missing { key: String },
    #[error("client_jwt and client_seed must be given together")]
    HalfCredentials,
}

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("client_seed is not a valid nkey seed: {0}")]
    BadSeed(String),
    #[error("failed to connect to {uri}: {source}")]
    Nats { uri: String, source: async_nats::ConnectError },
}

/// Fails on any key outside `allowed`: a misspelt key would otherwise be silently ignored.
pub fn reject_unknown_keys(config: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ConfigError> {
    let mut unknown: Vec<&String> = config.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    unknown.sort();
    match unknown.first() {
        Some(key) => Err(ConfigError::UnknownKey { key: (*key).clone(), known: allowed.join(", ") }),
        None => Ok(()),
    }
}

/// Reads the values of one link's config, each failure naming its key and value.
pub struct ConfigReader<'a> {
    config: &'a HashMap<String, String>,
}

impl<'a> ConfigReader<'a> {
    pub fn new(config: &'a HashMap<String, String>) -> Self {
        ConfigReader { config }
    }

    /// `key` has a value that can't be used, because `why`.
    pub fn bad(&self, key: &str, why: impl Into<String>) -> ConfigError {
        ConfigError::BadValue { key: key.to_string(), value: self.config.get(key).cloned().unwrap_or_default(), why: why.into() }
    }

    /// A whole number in `range`, or `default` when `key` is absent.
    pub fn number<T>(&self, key: &str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        match self.config.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| self.bad(key, format!("expected a whole number in {}..={}", range.start(), range.end()))),
        }
    }
}

impl NatsSettings {
    /// Reads the connection keys; `secrets` win over `config` for credentials.
    pub fn from_config(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let cluster_uri = config.get("cluster_uri").cloned().unwrap_or_else(|| DEFAULT_CLUSTER_URI.to_string());
        let valid_scheme = ["nats://", "tls://", "ws://", "wss://"].iter().any(|s| cluster_uri.starts_with(s));
        if !valid_scheme || cluster_uri.split("://").nth(1).is_none_or(str::is_empty) {
            return Err(ConfigError::BadValue {
                key: "cluster_uri".into(),
                value: cluster_uri,
                why: "expected nats://host:port (or tls://, ws://, wss://)".into(),
            });
        }
        let pick = |key: &str| secrets.get(key).or_else(|| config.get(key)).filter(|v| !v.is_empty()).cloned();
        let (jwt, seed) = (pick("client_jwt"), pick("client_seed"));
        if jwt.is_some() != seed.is_some() {
            return Err(ConfigError::HalfCredentials);
        }
        Ok(NatsSettings {
            cluster_uri,
            js_domain: config.get("js_domain").filter(|d| !d.is_empty()).cloned(),
            jwt,
            seed,
            creds_file: config.get("creds_file").map(PathBuf::from),
        })
    }

    /// Connects, with a name that shows up in the server's connection list.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, ConnectError> {
        let nats_err = |source| ConnectError::Nats { uri: self.cluster_uri.clone(), source };
        let mut options = async_nats::ConnectOptions::new().name(name);
        if let Some(path) = &self.creds_file {
            options = options.credentials_file(path).await.map_err(|e| nats_err(e.into()))?;
        } else if let (Some(jwt), Some(seed)) = (&self.jwt, &self.seed) {
            let key = std::sync::Arc::new(
                nkeys::KeyPair::from_seed(seed).map_err(|e| ConnectError::BadSeed(e.to_string()))?,
            );
            options = options.jwt(jwt.clone(), move |nonce| {
                let key = key.clone();
                async move { key.sign(&nonce).map_err(async_nats::AuthError::new) }
            });
        }
        options.connect(&self.cluster_uri).await.map_err(nats_err)
    }

    /// A JetStream context in the configured domain.
    pub fn jetstream(&self, client: async_nats::Client) -> async_nats::jetstream::Context {
        match &self.js_domain {
            Some(domain) => async_nats::jetstream::with_domain(client, domain),
            None => async_nats::jetstream::new(client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let s = NatsSettings::from_config(&map(&[]), &map(&[])).expect("defaults");
        assert_eq!(s.cluster_uri, DEFAULT_CLUSTER_URI);
        assert_eq!((s.js_domain, s.jwt, s.seed), (None, None, None));
    }

    #[test]
    fn secrets_win_over_config() {
        let s = NatsSettings::from_config(
            &map(&[("client_jwt", "cfg-jwt"), ("client_seed", "cfg-seed"), ("js_domain", "edge")]),
            &map(&[("client_jwt", "secret-jwt"), ("client_seed", "secret-seed")]),
        )
        .expect("parses");
        assert_eq!((s.jwt.as_deref(), s.seed.as_deref()), (Some("secret-jwt"), Some("secret-seed")));
        assert_eq!(s.js_domain.as_deref(), Some("edge"));
    }

    #[test]
    fn bad_values_are_named() {
        let err = NatsSettings::from_config(&map(&[("cluster_uri", "localhost:4222")]), &map(&[])).expect_err("no scheme");
        assert!(err.to_string().contains("cluster_uri"), "{err}");
        let err = NatsSettings::from_config(&map(&[("client_jwt", "x")]), &map(&[])).expect_err("half");
        assert_eq!(err, ConfigError::HalfCredentials);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = reject_unknown_keys(&map(&[("bucket", "b"), ("buckett", "x")]), &["bucket"]).expect_err("typo");
        assert!(err.to_string().contains("\"buckett\""), "{err}");
        assert!(reject_unknown_keys(&map(&[("bucket", "b")]), &["bucket"]).is_ok());
    }
}
