//! Component settings, read from wasi:config (link or component config in the manifest).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `variants` | thumb 128, small 480, medium 1024 | JSON list of variant specs |
//! | `max_bytes` | 26214400 (25 MiB) | largest accepted image |
//! | `max_pixels` | 50000000 | largest accepted width×height |
//! | `max_dimension` | 16384 | largest accepted side |
//! | `max_attempts` | 3 | processing attempts before a job fails for good |
//! | `api_token` | none (open) | bearer token that uploads and deletes must send (`scripts/up` sets one) |
//! | `body_idle_timeout_ms` | 10000 | an upload body that sends nothing for this long is answered 408 |
//! | `body_deadline_ms` | 60000 | an upload body not complete by then is answered 408 (slow drips too) |
//! | `requeue_after_ms` | 300000 | a queued or processing job unchanged this long is queued again when it is read (longer than the queue keeps redelivering a message: ~3.5 min in wadm.yaml) |
//! | `work_subject` | `pixelbus.jobs.work` | where the api queues work (the thumbnailer's subscription must match); a zone sharing a NATS account with another (an edge leaf of a cloud hub) takes its own |
//! | `read_access` | `public` | `token`: reads need the bearer token too (`/healthz`, `/` and `/local/` stay open) |

use pixelbus_imaging::{default_variants, Limits, VariantSpec};
use pixelbus_jobs::SUBJECT_WORK;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub variants: Vec<VariantSpec>,
    pub limits: Limits,
    pub max_attempts: u32,
    /// When set, mutating HTTP requests must carry `Authorization: Bearer <token>`.
    pub api_token: Option<ApiToken>,
    pub read_access: ReadAccess,
    /// Upload bodies: longest silence, and longest time in all (milliseconds).
    pub body_idle_timeout_ms: u64,
    pub body_deadline_ms: u64,
    /// An unfinished job unchanged this long is queued again when read (milliseconds).
    pub requeue_after_ms: u64,
    /// NATS subject the api publishes work messages to.
    pub work_subject: String,
}

/// The API's bearer token. Its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiToken(<{} chars>)", self.0.len())
    }
}

/// Who may read (list jobs, fetch records and images) when a token is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAccess {
    #[default]
    Public,
    Token,
}

/// Shortest token accepted: a guessable one would be worse than none, because it looks safe.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Settings {
    /// Settings from config key/value pairs; unknown keys are ignored, bad values are errors.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Settings, SettingsError> {
        let mut settings = Settings {
            variants: default_variants(),
            limits: Limits::default(),
            max_attempts: 3,
            api_token: None,
            read_access: ReadAccess::Public,
            body_idle_timeout_ms: 10_000,
            body_deadline_ms: 60_000,
            requeue_after_ms: 300_000,
            work_subject: SUBJECT_WORK.to_string(),
        };
        for (key, value) in pairs {
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| SettingsError(format!("config {key}={value:?} is not a whole number")))
            };
            match key {
                "variants" => {
                    let variants: Vec<VariantSpec> = serde_json::from_str(value)
                        .map_err(|e| SettingsError(format!("config variants is not a JSON list of variant specs: {e}")))?;
                    for v in &variants {
                        v.validate().map_err(|e| SettingsError(format!("config variants: {e}")))?;
                    }
                    if variants.is_empty() {
                        return Err(SettingsError("config variants is empty".into()));
                    }
                    settings.variants = variants;
                }
                "max_bytes" => settings.limits.max_bytes = number()?,
                "max_pixels" => settings.limits.max_pixels = number()?,
                "max_dimension" => {
                    settings.limits.max_dimension = u32::try_from(number()?)
                        .map_err(|_| SettingsError(format!("config max_dimension={value} is too large")))?;
                }
                "max_attempts" => {
                    settings.max_attempts = u32::try_from(number()?).unwrap_or(u32::MAX).max(1);
                }
                "api_token" => settings.api_token = api_token(value)?,
                "body_idle_timeout_ms" => settings.body_idle_timeout_ms = number()?.max(1),
                "body_deadline_ms" => settings.body_deadline_ms = number()?.max(1),
                "requeue_after_ms" => settings.requeue_after_ms = number()?.max(1_000),
                "work_subject" => settings.work_subject = work_subject(value)?,
                "read_access" => {
                    settings.read_access = match value.trim() {
                        "public" | "" => ReadAccess::Public,
                        "token" => ReadAccess::Token,
                        other => return Err(SettingsError(format!("config read_access={other:?} is neither \"public\" nor \"token\""))),
                    }
                }
                _ => {}
            }
        }
        if settings.read_access == ReadAccess::Token && settings.api_token.is_none() {
            return Err(SettingsError("config read_access=token needs an api_token".into()));
        }
        Ok(settings)
    }
}

/// A literal NATS subject to publish to: dot-separated non-empty tokens, no wildcards, no spaces.
fn work_subject(value: &str) -> Result<String, SettingsError> {
    let subject = value.trim();
    let literal = !subject.is_empty()
        && subject.split('.').all(|token| !token.is_empty() && token != "*" && token != ">")
        && subject.bytes().all(|b| b.is_ascii_graphic());
    if !literal {
        return Err(SettingsError(format!("config work_subject={value:?} is not a literal NATS subject (like pixelbus.edge.jobs.work)")));
    }
    Ok(subject.to_string())
}

/// An empty value means no token. A token is printable ASCII without spaces (it travels in a
/// header) and at least [`MIN_TOKEN_CHARS`] long.
fn api_token(value: &str) -> Result<Option<ApiToken>, SettingsError> {
    let token = value.trim();
    if token.is_empty() {
        return Ok(None);
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SettingsError("config api_token must be printable ASCII without spaces".into()));
    }
    if token.len() < MIN_TOKEN_CHARS {
        return Err(SettingsError(format!("config api_token is {} characters; at least {MIN_TOKEN_CHARS} are needed", token.len())));
    }
    Ok(Some(ApiToken(token.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_config() {
        let s = Settings::from_pairs([]).expect("defaults");
        assert_eq!(s.variants, default_variants());
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.max_attempts, 3);
        assert_eq!((s.body_idle_timeout_ms, s.body_deadline_ms), (10_000, 60_000));
        assert_eq!(s.requeue_after_ms, 300_000);
        assert_eq!(s.work_subject, SUBJECT_WORK);
    }

    #[test]
    fn a_work_subject_must_be_literal() {
        let s = Settings::from_pairs([("work_subject", " pixelbus.edge.jobs.work ")]).expect("parses");
        assert_eq!(s.work_subject, "pixelbus.edge.jobs.work");
        for bad in ["", "pixelbus.*.work", "pixelbus.>", "pixelbus..work", "has space", ".pixelbus"] {
            let err = Settings::from_pairs([("work_subject", bad)]).expect_err(bad);
            assert!(err.0.contains("literal NATS subject"), "{bad}: {err}");
        }
    }

    #[test]
    fn values_are_read() {
        let s = Settings::from_pairs([
            ("variants", r#"[{"name":"tiny","max_width":16,"max_height":16}]"#),
            ("max_bytes", "1000"),
            ("max_dimension", "2048"),
            ("max_attempts", "5"),
            ("body_idle_timeout_ms", "2500"),
            ("body_deadline_ms", "0"),
            ("requeue_after_ms", "5"),
            ("unrelated", "x"),
        ])
        .expect("parses");
        assert_eq!(s.requeue_after_ms, 1_000, "requeueing more often than each second would flood the queue");
        assert_eq!((s.body_idle_timeout_ms, s.body_deadline_ms), (2500, 1), "a zero timeout would refuse every body");
        assert_eq!(s.variants[0].name, "tiny");
        assert_eq!((s.limits.max_bytes, s.limits.max_dimension, s.max_attempts), (1000, 2048, 5));
    }

    #[test]
    fn a_token_and_read_access_are_read_and_checked() {
        let s = Settings::from_pairs([("api_token", " 0123456789abcdef0123 "), ("read_access", "token")]).expect("parses");
        assert_eq!(s.api_token.as_ref().map(ApiToken::as_str), Some("0123456789abcdef0123"));
        assert_eq!(s.read_access, ReadAccess::Token);
        assert!(!format!("{s:?}").contains("0123456789abcdef"), "Debug must not print the token");
        assert_eq!(Settings::from_pairs([("api_token", "")]).expect("empty is none").api_token, None);
        for (pairs, named) in [
            (vec![("api_token", "short")], "at least 16"),
            (vec![("api_token", "has a space in it, long enough")], "printable"),
            (vec![("read_access", "token")], "needs an api_token"),
            (vec![("read_access", "everyone")], "read_access"),
        ] {
            let err = Settings::from_pairs(pairs).expect_err("refused");
            assert!(err.0.contains(named), "{err}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [("max_bytes", "lots"), ("body_deadline_ms", "soon"), ("variants", "[]"), ("variants", "{"), ("variants", r#"[{"name":"A","max_width":1,"max_height":1}]"#)] {
            let err = Settings::from_pairs([(k, v)]).expect_err("refused");
            assert!(err.0.contains(k), "{err}");
        }
    }
}
