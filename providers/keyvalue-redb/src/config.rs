//! Link config of keyvalue-redb (the link from a component to this provider, target config).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Every key a link may set.
pub const KNOWN_KEYS: &[&str] = &["path", "bucket", "max_value_bytes"];

/// Default largest value: 16 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// Upper bound of `max_value_bytes`: 1 GiB (redb itself allows a little under 4 GiB).
pub const MAX_MAX_VALUE_BYTES: usize = 1024 * 1024 * 1024;

/// Why a link config was refused. Every message names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown link config key {key:?} (known keys: path, bucket, max_value_bytes)")]
    UnknownKey { key: String },
    #[error("unexpected link secret {key:?}: keyvalue-redb takes no secrets")]
    UnknownSecret { key: String },
    #[error("link config key {key:?} is required: {why}")]
    Missing { key: String, why: String },
    #[error("link config key {key:?} has a bad value {value:?}: {why}")]
    BadValue { key: String, value: String, why: String },
}

/// A parsed, checked link config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedbConfig {
    /// The database file on the provider's host (absolute).
    pub path: PathBuf,
    /// Table used whatever bucket the component opens; `None`: the name it opens.
    pub bucket: Option<String>,
    /// Largest value accepted by `set` / `set-many`.
    pub max_value_bytes: usize,
}

/// Bucket (table) names: 1-64 ASCII letters, digits, `-` and `_`.
pub fn valid_bucket(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl RedbConfig {
    /// Parses a link's config and secrets. Never panics; any problem is a [`ConfigError`]
    /// naming the key.
    pub fn from_link(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        // Report the alphabetically first offender so the message is stable.
        let mut unknown: Vec<&String> = config.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())).collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            return Err(ConfigError::UnknownKey { key: (*key).clone() });
        }
        let mut secret_keys: Vec<&String> = secrets.keys().collect();
        secret_keys.sort();
        if let Some(key) = secret_keys.first() {
            return Err(ConfigError::UnknownSecret { key: (*key).clone() });
        }
        let bad = |key: &str, why: &str| ConfigError::BadValue {
            key: key.to_string(),
            value: config.get(key).cloned().unwrap_or_default(),
            why: why.to_string(),
        };

        let path = match config.get("path").map(|p| p.trim()) {
            None | Some("") => {
                return Err(ConfigError::Missing {
                    key: "path".into(),
                    why: "the absolute path of the database file on the provider's host".into(),
                })
            }
            Some(p) => PathBuf::from(p),
        };
        check_path(&path).map_err(|why| bad("path", why))?;

        let bucket = match config.get("bucket").map(|b| b.trim()) {
            None => None,
            Some(b) if valid_bucket(b) => Some(b.to_string()),
            Some(_) => return Err(bad("bucket", "bucket names are 1-64 letters, digits, '-' or '_'")),
        };

        let max_value_bytes = match config.get("max_value_bytes") {
            None => DEFAULT_MAX_VALUE_BYTES,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_MAX_VALUE_BYTES).contains(n))
                .ok_or_else(|| bad("max_value_bytes", &format!("expected a whole number of bytes in 1..={MAX_MAX_VALUE_BYTES}")))?,
        };

        Ok(RedbConfig { path, bucket, max_value_bytes })
    }

    /// The table behind the bucket name a component opened; `None` if the name is not valid.
    pub fn bucket_for(&self, opened: &str) -> Option<String> {
        let name = self.bucket.clone().unwrap_or_else(|| opened.to_string());
        valid_bucket(&name).then_some(name)
    }
}

/// An absolute path naming a file: no `..`, not ending in a separator.
fn check_path(path: &Path) -> Result<(), &'static str> {
    if !path.is_absolute() {
        return Err("must be an absolute path (the provider's working directory is not defined)");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("must not contain '..'");
    }
    let ends_in_separator = path.as_os_str().to_string_lossy().ends_with(std::path::MAIN_SEPARATOR);
    if ends_in_separator || path.file_name().is_none() || path.parent().is_none() {
        return Err("must name a file, not a directory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let c = RedbConfig::from_link(&map(&[("path", "/var/lib/pixelbus/kv.redb")]), &map(&[])).expect("parses");
        assert_eq!(c.path, PathBuf::from("/var/lib/pixelbus/kv.redb"));
        assert_eq!(c.max_value_bytes, 16 * 1024 * 1024);
        assert_eq!(c.bucket, None);
        assert_eq!(c.bucket_for("pixelbus-jobs").as_deref(), Some("pixelbus-jobs"));
        assert_eq!(c.bucket_for("../x"), None);
        assert_eq!(c.bucket_for(""), None);
        assert_eq!(c.bucket_for(&"a".repeat(65)), None);
    }

    #[test]
    fn values_are_read() {
        let c = RedbConfig::from_link(&map(&[("path", " /data/kv.redb "), ("bucket", "fixed_1"), ("max_value_bytes", "4096")]), &map(&[]))
            .expect("parses");
        assert_eq!(c.path, PathBuf::from("/data/kv.redb"));
        assert_eq!(c.bucket_for("anything").as_deref(), Some("fixed_1"));
        assert_eq!(c.max_value_bytes, 4096);
    }

    #[test]
    fn bad_config_fails_with_the_key_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "path"),
            (&[("path", "")], "path"),
            (&[("path", "relative/kv.redb")], "path"),
            (&[("path", "/data/../etc/kv.redb")], "path"),
            (&[("path", "/data/dir/")], "path"),
            (&[("path", "/")], "path"),
            (&[("path", "/data/kv.redb"), ("bucket", "a.b")], "bucket"),
            (&[("path", "/data/kv.redb"), ("bucket", "")], "bucket"),
            (&[("path", "/data/kv.redb"), ("max_value_bytes", "0")], "max_value_bytes"),
            (&[("path", "/data/kv.redb"), ("max_value_bytes", "-5")], "max_value_bytes"),
            (&[("path", "/data/kv.redb"), ("max_value_bytes", "lots")], "max_value_bytes"),
            (&[("path", "/data/kv.redb"), ("max_value_bytes", "99999999999999999999999")], "max_value_bytes"),
            (&[("path", "/data/kv.redb"), ("buckets", "x")], "buckets"),
            (&[("path", "/data/kv.redb"), ("cluster_uri", "nats://127.0.0.1:4222")], "cluster_uri"),
        ];
        for (pairs, key) in cases {
            let err = RedbConfig::from_link(&map(pairs), &map(&[])).expect_err("refused");
            assert!(err.to_string().contains(&format!("{key:?}")), "{pairs:?}: {err}");
        }
        let err = RedbConfig::from_link(&map(&[("path", "/data/kv.redb")]), &map(&[("client_seed", "x")])).expect_err("refused");
        assert!(err.to_string().contains("\"client_seed\""), "{err}");
    }
}
