//! Link config of messaging-jetstream, validated up front so a bad link fails with the key named.
//!
//! Two kinds of link reach this provider:
//! - a *handler* link (provider → component, the provider is the source): which stream and
//!   durable consumer to take messages from, and how to retry them ([`HandlerConfig`]);
//! - a *consumer* link (component → provider, the provider is the target): where the component's
//!   `publish` calls are stored ([`PublishConfig`]).

use std::collections::HashMap;
use std::time::Duration;

use pixelbus_natsconn::{reject_unknown_keys, ConfigError, ConfigReader, NatsSettings, CONNECTION_KEYS};

/// Keys describing the stream a link uses (both link kinds); the stream is created when missing.
const STREAM_KEYS: &[&str] = &["stream", "subjects", "sources", "retention", "storage", "max_age_seconds"];
/// Keys of handler links only.
const HANDLER_KEYS: &[&str] =
    &["consumer", "filter_subject", "max_deliver", "timeout_ms", "ack_wait_ms", "backoff_ms", "max_in_flight", "dead_letter_subject"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Messages stay until limits remove them.
    Limits,
    /// A message is removed once a consumer acknowledges it (a job queue).
    WorkQueue,
    /// A message is removed once every consumer acknowledged it.
    Interest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    File,
    Memory,
}

/// The stream behind a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    /// Subjects the stream captures when this provider creates it. Empty, and no `sources`:
    /// it must already exist.
    pub subjects: Vec<String>,
    /// Streams it copies messages from when this provider creates it, possibly in another
    /// JetStream domain (an edge leaf node's): JetStream keeps copying across reconnects and
    /// catches up on what was stored while the link was down.
    pub sources: Vec<StreamSource>,
    pub retention: Retention,
    pub storage: Storage,
    pub max_age: Option<Duration>,
}

/// A stream another stream copies from: `name`, or `name@domain` for a stream in another
/// JetStream domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub name: String,
    pub domain: Option<String>,
}

impl StreamSource {
    fn parse(text: &str) -> Option<StreamSource> {
        let (name, domain) = match text.split_once('@') {
            Some((name, domain)) => (name, Some(domain)),
            None => (text, None),
        };
        let domain_ok = domain.is_none_or(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        (valid_name(name) && domain_ok).then(|| StreamSource { name: name.to_string(), domain: domain.map(str::to_string) })
    }
}

/// A handler link: messages from `stream`, through the durable `consumer`, to the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerConfig {
    pub nats: NatsSettings,
    pub stream: StreamSpec,
    /// Durable consumer name; every provider instance with the same name shares the work.
    pub consumer: String,
    pub filter_subject: Option<String>,
    /// Deliveries before a message goes to the dead-letter subject.
    pub max_deliver: u32,
    /// How long the component may take; past it the delivery counts as failed.
    pub timeout: Duration,
    /// How long JetStream waits without word from this provider before it redelivers. While a
    /// delivery runs the provider reports progress, so this bounds how soon work held by a dead
    /// host comes back, not how long a job may take.
    pub ack_wait: Duration,
    /// Redelivery delay after the n-th failure (the last entry repeats).
    pub backoff: Vec<Duration>,
    /// Messages handed to the component at once, per link and provider instance.
    pub max_in_flight: usize,
    /// Where exhausted messages go (with the error in headers); `None`: they are dropped, logged.
    pub dead_letter_subject: Option<String>,
}

/// A consumer link: the component's `publish` goes to JetStream and returns once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    pub nats: NatsSettings,
    /// Stream to create (if missing) so the component's subjects are captured.
    pub stream: Option<StreamSpec>,
}

/// Reads keys of one link's config, each failure naming its key.
struct Reader<'a> {
    config: &'a HashMap<String, String>,
}

impl Reader<'_> {
    fn bad(&self, key: &str, why: impl Into<String>) -> ConfigError {
        ConfigReader::new(self.config).bad(key, why)
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn number(&self, key: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, ConfigError> {
        // An empty value counts as absent here.
        match self.text(key) {
            None => Ok(default),
            Some(_) => ConfigReader::new(self.config).number(key, default, range),
        }
    }

    fn name(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.text(key) {
            None => Ok(None),
            Some(v) if valid_name(v) => Ok(Some(v.to_string())),
            Some(_) => Err(self.bad(key, "names are 1-255 characters without spaces, '.', '*', '>', '/' or '\\'")),
        }
    }

    fn subject(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.text(key) {
            None => Ok(None),
            Some(v) if valid_subject(v) => Ok(Some(v.to_string())),
            Some(_) => Err(self.bad(key, "expected a NATS subject like a.b.c (wildcards * and > as whole tokens)")),
        }
    }

    fn stream(&self) -> Result<Option<StreamSpec>, ConfigError> {
        let Some(name) = self.name("stream")? else {
            // Stream settings without a stream are a mistake, not something to ignore.
            if let Some(key) = STREAM_KEYS.iter().find(|k| self.config.contains_key(**k)) {
                return Err(self.bad(key, "only meaningful together with `stream`"));
            }
            return Ok(None);
        };
        let subjects: Vec<String> =
            self.text("subjects").unwrap_or_default().split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect();
        if subjects.iter().any(|s| !valid_subject(s)) {
            return Err(self.bad("subjects", "expected comma-separated NATS subjects like a.b.c or a.>"));
        }
        let sources = self
            .text("sources")
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(StreamSource::parse)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.bad("sources", "expected comma-separated STREAM or STREAM@domain (domain: A-Z a-z 0-9 _ -)"))?;
        let retention = match self.text("retention") {
            None | Some("limits") => Retention::Limits,
            Some("workqueue") => Retention::WorkQueue,
            Some("interest") => Retention::Interest,
            Some(_) => return Err(self.bad("retention", "expected limits, workqueue or interest")),
        };
        let storage = match self.text("storage") {
            None | Some("file") => Storage::File,
            Some("memory") => Storage::Memory,
            Some(_) => return Err(self.bad("storage", "expected file or memory")),
        };
        let max_age = self.number("max_age_seconds", 0, 0..=u64::from(u32::MAX))?;
        Ok(Some(StreamSpec {
            name,
            subjects,
            sources,
            retention,
            storage,
            max_age: (max_age > 0).then(|| Duration::from_secs(max_age)),
        }))
    }
}

/// Stream and consumer names: JetStream refuses these characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

/// A NATS subject: dot-separated non-empty tokens; `*` and `>` only as whole tokens, `>` last.
pub fn valid_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| {
        !t.is_empty()
            && !t.chars().any(|c| c.is_whitespace() || c.is_control())
            && (!t.contains(['*', '>']) || *t == "*" || (*t == ">" && i == tokens.len() - 1))
    })
}

impl HandlerConfig {
    pub fn from_link(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let allowed: Vec<&str> = CONNECTION_KEYS.iter().chain(STREAM_KEYS).chain(HANDLER_KEYS).copied().collect();
        reject_unknown_keys(config, &allowed)?;
        let r = Reader { config };
        let stream = r.stream()?.ok_or_else(|| ConfigError::Missing { key: "stream".into() })?;
        let consumer = r.name("consumer")?.ok_or_else(|| ConfigError::Missing { key: "consumer".into() })?;
        let backoff = match r.text("backoff_ms") {
            None => vec![Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(15)],
            Some(list) => list
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(|ms| ms.parse::<u64>().ok().filter(|ms| *ms <= 3_600_000).map(Duration::from_millis))
                .collect::<Option<Vec<_>>>()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| r.bad("backoff_ms", "expected comma-separated milliseconds, each at most 3600000"))?,
        };
        Ok(HandlerConfig {
            nats: NatsSettings::from_config(config, secrets)?,
            stream,
            consumer,
            filter_subject: r.subject("filter_subject")?,
            max_deliver: r.number("max_deliver", 5, 1..=1000)? as u32,
            timeout: Duration::from_millis(r.number("timeout_ms", 30_000, 100..=3_600_000)?),
            ack_wait: Duration::from_millis(r.number("ack_wait_ms", 10_000, 1_000..=3_600_000)?),
            backoff,
            max_in_flight: r.number("max_in_flight", 8, 1..=1024)? as usize,
            dead_letter_subject: r.subject("dead_letter_subject")?,
        })
    }

    /// Redelivery delay after the `delivered`-th attempt failed.
    pub fn backoff_after(&self, delivered: u32) -> Duration {
        let index = (delivered.max(1) - 1) as usize;
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or_default()
    }

    /// How often a running delivery tells JetStream it is still being worked on.
    pub fn progress_interval(&self) -> Duration {
        self.ack_wait / 3
    }
}

impl PublishConfig {
    pub fn from_link(config: &HashMap<String, String>, secrets: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let allowed: Vec<&str> = CONNECTION_KEYS.iter().chain(STREAM_KEYS).copied().collect();
        reject_unknown_keys(config, &allowed)?;
        let r = Reader { config };
        let stream = r.stream()?;
        // A publish goes to subjects; a stream made only of sources would not store it.
        if stream.as_ref().is_some_and(|s| s.subjects.is_empty()) {
            return Err(ConfigError::Missing { key: "subjects".into() });
        }
        Ok(PublishConfig { nats: NatsSettings::from_config(config, secrets)?, stream })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn handler_defaults() {
        let c = HandlerConfig::from_link(&map(&[("stream", "JOBS"), ("consumer", "workers")]), &map(&[])).expect("parses");
        assert_eq!((c.max_deliver, c.max_in_flight, c.timeout), (5, 8, Duration::from_secs(30)));
        assert_eq!(c.stream.retention, Retention::Limits);
        assert!(c.stream.subjects.is_empty() && c.dead_letter_subject.is_none());
        assert_eq!(c.backoff_after(1), Duration::from_secs(1));
        assert_eq!(c.backoff_after(3), Duration::from_secs(15));
        assert_eq!(c.backoff_after(9), Duration::from_secs(15), "the last delay repeats");
        assert_eq!(c.ack_wait, Duration::from_secs(10));
        assert!(c.progress_interval() < c.ack_wait);
    }

    #[test]
    fn handler_values_are_read() {
        let c = HandlerConfig::from_link(
            &map(&[
                ("stream", "JOBS"),
                ("subjects", "jobs.work, jobs.extra.>"),
                ("retention", "workqueue"),
                ("consumer", "workers"),
                ("max_deliver", "3"),
                ("timeout_ms", "2500"),
                ("backoff_ms", "100,200"),
                ("max_in_flight", "2"),
                ("dead_letter_subject", "jobs.dead"),
            ]),
            &map(&[]),
        )
        .expect("parses");
        assert_eq!(c.stream.subjects, vec!["jobs.work".to_string(), "jobs.extra.>".to_string()]);
        assert_eq!((c.stream.retention, c.max_deliver, c.max_in_flight), (Retention::WorkQueue, 3, 2));
        assert_eq!(c.backoff, vec![Duration::from_millis(100), Duration::from_millis(200)]);
        assert_eq!(c.dead_letter_subject.as_deref(), Some("jobs.dead"));
    }

    #[test]
    fn missing_and_bad_keys_are_named() {
        let base = [("stream", "JOBS"), ("consumer", "w")];
        for (key, value) in [
            ("max_deliver", "0"),
            ("timeout_ms", "5"),
            ("ack_wait_ms", "10"),
            ("backoff_ms", "1,x"),
            ("max_in_flight", "100000"),
            ("retention", "forever"),
            ("subjects", "a..b"),
            ("dead_letter_subject", "dead.>.x"),
            ("consumer", "has.dot"),
            ("stream", "has space"),
            ("max_age_second", "3"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = HandlerConfig::from_link(&map(&pairs), &map(&[])).expect_err("refused");
            assert!(err.to_string().contains(key), "{key}={value}: {err}");
        }
        let err = HandlerConfig::from_link(&map(&[("stream", "JOBS")]), &map(&[])).expect_err("no consumer");
        assert_eq!(err, ConfigError::Missing { key: "consumer".into() });
        let err = HandlerConfig::from_link(&map(&[("consumer", "w")]), &map(&[])).expect_err("no stream");
        assert_eq!(err, ConfigError::Missing { key: "stream".into() });
    }

    #[test]
    fn publish_links_need_no_stream_but_a_stream_needs_subjects() {
        let c = PublishConfig::from_link(&map(&[]), &map(&[])).expect("empty is fine");
        assert!(c.stream.is_none());
        let c = PublishConfig::from_link(&map(&[("stream", "EVENTS"), ("subjects", "ev.>")]), &map(&[])).expect("parses");
        assert_eq!(c.stream.map(|s| s.subjects), Some(vec!["ev.>".to_string()]));
        let err = PublishConfig::from_link(&map(&[("stream", "EVENTS")]), &map(&[])).expect_err("no subjects");
        assert!(err.to_string().contains("subjects"), "{err}");
        let err = PublishConfig::from_link(&map(&[("consumer", "x")]), &map(&[])).expect_err("handler key");
        assert!(err.to_string().contains("consumer"), "{err}");
        let err = PublishConfig::from_link(&map(&[("retention", "workqueue")]), &map(&[])).expect_err("no stream");
        assert!(err.to_string().contains("retention"), "{err}");
    }

    #[test]
    fn sources_name_streams_and_their_domains() {
        let c = HandlerConfig::from_link(
            &map(&[("stream", "EDGE_EVENTS"), ("sources", "EVENTS@edge-1, LOCAL"), ("consumer", "sync")]),
            &map(&[]),
        )
        .expect("parses");
        assert!(c.stream.subjects.is_empty());
        assert_eq!(
            c.stream.sources,
            vec![
                StreamSource { name: "EVENTS".into(), domain: Some("edge-1".into()) },
                StreamSource { name: "LOCAL".into(), domain: None },
            ]
        );
        for bad in ["EVENTS@", "EV.ENTS@edge", "EVENTS@ed.ge", "@edge"] {
            let err = HandlerConfig::from_link(&map(&[("stream", "S"), ("sources", bad), ("consumer", "c")]), &map(&[]))
                .expect_err(bad);
            assert!(err.to_string().contains("sources"), "{bad}: {err}");
        }
        let err = PublishConfig::from_link(&map(&[("stream", "S"), ("sources", "EVENTS@edge")]), &map(&[])).expect_err("no subjects");
        assert!(err.to_string().contains("subjects"), "{err}");
    }

    #[test]
    fn subjects() {
        for ok in ["a", "a.b", "a.*.c", "a.>", ">", "_INBOX.x"] {
            assert!(valid_subject(ok), "{ok}");
        }
        for bad in ["", "a.", ".a", "a..b", "a b", "a.>.b", "a*b", "a.b>"] {
            assert!(!valid_subject(bad), "{bad}");
        }
    }
}
