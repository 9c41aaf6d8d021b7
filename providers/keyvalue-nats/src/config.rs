//! Link config of keyvalue-nats (the link from a component to this provider).

use std::collections::HashMap;
use std::time::Duration;

use pixelbus_natsconn::{reject_unknown_keys, ConfigError, ConfigReader, NatsSettings, CONNECTION_KEYS};

/// Keys of this provider on top of the connection keys.
const KV_KEYS: &[&str] = &["bucket", "history", "ttl_seconds", "storage", "max_value_bytes"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    File,
    Memory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvConfig {
    pub nats: NatsSettings,
    /// Bucket used whatever the component opens; `None`: the name it opens.
    pub bucket: Option<String>,
    /// Revisions kept per key (1..=64) for buckets this provider creates.
    pub history: i64,
    /// Age after which entries expire; `None`: never.
    pub ttl: Option<Duration>,
    pub storage: StorageKind,
    /// Largest value accepted (the NATS server's max payload is the hard ceiling).
    pub max_value_bytes: i32,
}

/// JetStream bucket names: letters, digits, `-` and `_`.
pub fn valid_bucket(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl KvConfig {
    pub fn from_link(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let allowed: Vec<&str> = CONNECTION_KEYS.iter().chain(KV_KEYS).copied().collect();
        reject_unknown_keys(config, &allowed)?;
        let reader = ConfigReader::new(config);
        let bucket = config.get("bucket").cloned();
        if bucket.as_deref().is_some_and(|b| !valid_bucket(b)) {
            return Err(reader.bad("bucket", "bucket names are 1-64 letters, digits, '-' or '_'"));
        }
        let ttl_seconds = reader.number("ttl_seconds", 0, 0..=i64::from(u32::MAX))?;
        let storage = match config.get("storage").map(String::as_str) {
            None | Some("file") => StorageKind::File,
            Some("memory") => StorageKind::Memory,
            Some(_) => return Err(reader.bad("storage", "expected file or memory")),
        };
        Ok(KvConfig {
            nats: NatsSettings::from_config(config, secrets)?,
            bucket,
            history: reader.number("history", 1, 1..=64)?,
            ttl: (ttl_seconds > 0).then(|| Duration::from_secs(ttl_seconds as u64)),
            storage,
            max_value_bytes: reader.number("max_value_bytes", 1024 * 1024, 1..=64 * 1024 * 1024)? as i32,
        })
    }

    /// The bucket behind the name a component opened.
    pub fn bucket_for(&self, opened: &str) -> Option<String> {
        let name = self.bucket.clone().unwrap_or_else(|| opened.to_string());
        valid_bucket(&name).then_some(name)
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
        let c = KvConfig::from_link(&map(&[]), &map(&[])).expect("defaults");
        assert_eq!((c.history, c.ttl, c.storage, c.bucket.clone()), (1, None, StorageKind::File, None));
        assert_eq!(c.bucket_for("pixelbus-jobs").as_deref(), Some("pixelbus-jobs"));
        assert_eq!(c.bucket_for("../x"), None);
    }

    #[test]
    fn values_are_read() {
        let c = KvConfig::from_link(
            &map(&[("bucket", "jobs"), ("history", "5"), ("ttl_seconds", "60"), ("storage", "memory"), ("cluster_uri", "nats://127.0.0.1:4999")]),
            &map(&[]),
        )
        .expect("parses");
        assert_eq!(c.bucket_for("anything").as_deref(), Some("jobs"));
        assert_eq!((c.history, c.ttl, c.storage), (5, Some(Duration::from_secs(60)), StorageKind::Memory));
        assert_eq!(c.nats.cluster_uri, "nats://127.0.0.1:4999");
    }

    #[test]
    fn bad_config_fails_with_the_key_named() {
        for (k, v) in [("history", "0"), ("history", "65"), ("ttl_seconds", "-1"), ("storage", "disk"), ("bucket", "a.b"), ("buckets", "x")] {
            let err = KvConfig::from_link(&map(&[(k, v)]), &map(&[])).expect_err("refused");
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
    }
}
