//! Link config of blobstore-nats (the link from a component to this provider).

use std::collections::HashMap;
use std::time::Duration;

use pixelbus_natsconn::{reject_unknown_keys, ConfigError, ConfigReader, NatsSettings, CONNECTION_KEYS};

/// Keys of this provider on top of the connection keys.
pub const BLOB_KEYS: &[&str] = &["bucket_prefix", "storage", "max_bytes", "ttl_seconds", "chunk_bytes", "replicas"];

/// Object store chunk size unless the link says otherwise (the NATS client's own default).
pub const DEFAULT_CHUNK_BYTES: usize = 128 * 1024;
const MIN_CHUNK_BYTES: i64 = 1024;
/// Chunks are single NATS messages: the server's max payload (1 MiB unless raised, 64 MiB at
/// most) is the real ceiling, checked when the link connects.
const MAX_CHUNK_BYTES: i64 = 64 * 1024 * 1024;
/// Longest bucket name accepted (prefix included); the stream behind it is `OBJ_<bucket>`.
pub const MAX_BUCKET_LEN: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    File,
    Memory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobConfig {
    pub nats: NatsSettings,
    /// Put in front of every container name to form the bucket name ("" for none).
    pub bucket_prefix: String,
    /// For buckets created by this provider:
    pub storage: StorageKind,
    /// Size limit of a bucket; `None`: unlimited.
    pub max_bytes: Option<i64>,
    /// Age after which objects expire; `None`: never.
    pub ttl: Option<Duration>,
    pub replicas: usize,
    /// Object store chunk size for objects written through this link.
    pub chunk_bytes: usize,
}

/// Object store bucket names: letters, digits, `-` and `_`.
pub fn valid_bucket(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_BUCKET_LEN && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl BlobConfig {
    pub fn from_link(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let allowed: Vec<&str> = CONNECTION_KEYS.iter().chain(BLOB_KEYS).copied().collect();
        reject_unknown_keys(config, &allowed)?;
        let reader = ConfigReader::new(config);
        let bucket_prefix = config.get("bucket_prefix").cloned().unwrap_or_default();
        // The prefix alone need not be a whole bucket name, but may only hold bucket characters
        // and must leave room for a container name.
        if (!bucket_prefix.is_empty() && !valid_bucket(&bucket_prefix)) || bucket_prefix.len() >= MAX_BUCKET_LEN {
            return Err(reader.bad("bucket_prefix", "only letters, digits, '-' and '_' (bucket name characters), shorter than 200"));
        }
        let storage = match config.get("storage").map(|s| s.trim()) {
            None | Some("file") => StorageKind::File,
            Some("memory") => StorageKind::Memory,
            Some(_) => return Err(reader.bad("storage", "expected file or memory")),
        };
        let max_bytes = reader.number("max_bytes", 0, 0..=i64::MAX)?;
        let ttl_seconds = reader.number("ttl_seconds", 0, 0..=i64::from(u32::MAX))?;
        let chunk_bytes = reader.number("chunk_bytes", DEFAULT_CHUNK_BYTES as i64, MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES)?;
        let replicas = reader.number("replicas", 1, 1..=5)?;
        Ok(BlobConfig {
            nats: NatsSettings::from_config(config, secrets)?,
            bucket_prefix,
            storage,
            max_bytes: (max_bytes > 0).then_some(max_bytes),
            ttl: (ttl_seconds > 0).then(|| Duration::from_secs(ttl_seconds.unsigned_abs())),
            replicas: usize::try_from(replicas).unwrap_or(1),
            chunk_bytes: usize::try_from(chunk_bytes).unwrap_or(DEFAULT_CHUNK_BYTES),
        })
    }

    /// The bucket behind a container name, if it makes a valid bucket name.
    pub fn bucket_for(&self, container: &str) -> Option<String> {
        let name = format!("{}{container}", self.bucket_prefix);
        (!container.is_empty() && valid_bucket(&name)).then_some(name)
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
        let c = BlobConfig::from_link(&map(&[]), &map(&[])).expect("defaults");
        assert_eq!(c.bucket_prefix, "");
        assert_eq!((c.storage, c.max_bytes, c.ttl, c.replicas, c.chunk_bytes), (StorageKind::File, None, None, 1, 128 * 1024));
        assert_eq!(c.bucket_for("pixelbus-originals").as_deref(), Some("pixelbus-originals"));
        assert_eq!(c.bucket_for("a.b"), None);
        assert_eq!(c.bucket_for("../x"), None);
        assert_eq!(c.bucket_for(""), None);
    }

    #[test]
    fn values_are_read() {
        let c = BlobConfig::from_link(
            &map(&[
                ("bucket_prefix", "prod-"),
                ("storage", "memory"),
                ("max_bytes", "1048576"),
                ("ttl_seconds", "60"),
                ("chunk_bytes", "65536"),
                ("replicas", "3"),
                ("cluster_uri", "nats://127.0.0.1:4999"),
            ]),
            &map(&[]),
        )
        .expect("parses");
        assert_eq!(c.bucket_for("images").as_deref(), Some("prod-images"));
        assert_eq!(c.storage, StorageKind::Memory);
        assert_eq!((c.max_bytes, c.ttl), (Some(1_048_576), Some(Duration::from_secs(60))));
        assert_eq!((c.chunk_bytes, c.replicas), (65536, 3));
        assert_eq!(c.nats.cluster_uri, "nats://127.0.0.1:4999");
    }

    #[test]
    fn bad_config_fails_with_the_key_named() {
        for (k, v) in [
            ("storage", "disk"),
            ("max_bytes", "-5"),
            ("max_bytes", "lots"),
            ("ttl_seconds", "-1"),
            ("chunk_bytes", "12"),
            ("chunk_bytes", "999999999999"),
            ("replicas", "0"),
            ("replicas", "6"),
            ("bucket_prefix", "a.b"),
            ("bucket_prefix", "has space"),
            ("cluster_uri", "localhost:4222"),
            ("bucket", "x"),
            ("chunk_size", "1024"),
        ] {
            let err = BlobConfig::from_link(&map(&[(k, v)]), &map(&[])).expect_err("refused");
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
    }
}
