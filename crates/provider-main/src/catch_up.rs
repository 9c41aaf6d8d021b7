//! Links the host published before the provider listened.
//!
//! A wasmCloud 1.x host (0.27) sends a provider its links two ways: the ones it knows when it
//! spawns the provider go in the start-up data, later ones are published on the provider's
//! `linkdefs.put` subject with a plain NATS publish. A link put that lands while the provider
//! process is starting (after the host built the start-up data, before the provider subscribed)
//! reaches nobody; the lattice then lists the link while the provider answers every call through
//! it with "no link". wadm makes exactly that overlap on a manifest swap: it starts the provider
//! and puts its links at the same moment.
//!
//! The catch-up asks the lattice (the control interface's `link.get` and `config.get`) which
//! links name this provider, and hands the provider any it does not serve. A link is only
//! handed over when two queries in a row list it, so a link deleted between a query and the
//! hand-over is not brought back from a stale answer.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use tracing::{info, warn};
use wasmcloud_provider_sdk::provider::receive_link_for_provider;
use wasmcloud_provider_sdk::{InterfaceLinkDefinition, Provider, ProviderConnection};

/// When the catch-up queries the lattice, counted from the provider's start: two early rounds
/// close the start-up gap within seconds, later ones heal a put lost in a NATS reconnect.
pub const ROUNDS_AFTER_START: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1500)];
pub const ROUND_EVERY: Duration = Duration::from_secs(10);
/// After a round that saw a link missing for the first time: the confirming round comes soon.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(1);
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Config names with this prefix are secret references; their values never leave the host.
const SECRET_PREFIX: &str = "SECRET_";

/// Which links a provider serves now.
pub trait ServedLinks {
    /// A component calls the provider through this link (the provider is the link's target).
    fn serves_calls_from(&self, component: &str, link_name: &str) -> impl Future<Output = bool> + Send;

    /// The provider calls a component through this link (the provider is the link's source).
    /// Providers that never call components keep the default: nothing to catch up.
    fn serves_calls_to(&self, _component: &str, _link_name: &str) -> impl Future<Output = bool> + Send {
        async { true }
    }
}

/// A link as the control interface's `link.get` lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
pub struct LatticeLink {
    pub source_id: String,
    pub target: String,
    #[serde(default = "default_name")]
    pub name: String,
    pub wit_namespace: String,
    pub wit_package: String,
    #[serde(default)]
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub source_config: Vec<String>,
    #[serde(default)]
    pub target_config: Vec<String>,
}

fn default_name() -> String {
    "default".to_string()
}

impl LatticeLink {
    /// The config names the provider's side of the link carries.
    fn config_names(&self, provider_id: &str) -> &[String] {
        if self.source_id == provider_id {
            &self.source_config
        } else {
            &self.target_config
        }
    }
}

/// The control interface's reply envelope.
#[derive(Debug, Deserialize)]
struct CtlReply<T> {
    success: bool,
    #[serde(default)]
    message: String,
    response: Option<T>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error("control interface request {subject} failed: {reason}")]
    Request { subject: String, reason: String },
    #[error("control interface reply to {subject} is not understood: {source}")]
    Reply { subject: String, source: serde_json::Error },
    #[error("control interface refused {subject}: {message}")]
    Refused { subject: String, message: String },
}

/// The links missing from the provider in this round that were also missing in the last one.
pub fn confirmed(previous: &HashSet<LatticeLink>, current: &HashSet<LatticeLink>) -> Vec<LatticeLink> {
    let mut both: Vec<LatticeLink> = current.intersection(previous).cloned().collect();
    both.sort_by(|a, b| (&a.source_id, &a.target, &a.name).cmp(&(&b.source_id, &b.target, &b.name)));
    both
}

/// Links that name `provider_id` and that the provider does not serve.
pub async fn unserved<P: ServedLinks>(provider: &P, provider_id: &str, links: Vec<LatticeLink>) -> HashSet<LatticeLink> {
    let mut out = HashSet::new();
    for link in links {
        let served = if link.target == provider_id {
            provider.serves_calls_from(&link.source_id, &link.name).await
        } else if link.source_id == provider_id {
            provider.serves_calls_to(&link.target, &link.name).await
        } else {
            true
        };
        if !served {
            out.insert(link);
        }
    }
    out
}

async fn ctl_request<T: for<'de> Deserialize<'de>>(nats: &async_nats::Client, subject: String) -> Result<T, CatchUpError> {
    let request = nats.request(subject.clone(), Vec::new().into());
    let reply = match tokio::time::timeout(QUERY_TIMEOUT, request).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(CatchUpError::Request { subject, reason: e.to_string() }),
        Err(_) => return Err(CatchUpError::Request { subject, reason: format!("no answer in {QUERY_TIMEOUT:?}") }),
    };
    let parsed: CtlReply<T> =
        serde_json::from_slice(&reply.payload).map_err(|source| CatchUpError::Reply { subject: subject.clone(), source })?;
    match (parsed.success, parsed.response) {
        (true, Some(data)) => Ok(data),
        (_, _) => Err(CatchUpError::Refused { subject, message: parsed.message }),
    }
}

/// Every link in the lattice (any host answers; hosts share links through the lattice's KV).
pub async fn lattice_links(nats: &async_nats::Client, lattice: &str) -> Result<Vec<LatticeLink>, CatchUpError> {
    ctl_request(nats, format!("wasmbus.ctl.v1.{lattice}.link.get")).await
}

/// The values of named configs merged in order, later names winning (as the host merges them).
async fn resolve_config(nats: &async_nats::Client, lattice: &str, names: &[String]) -> Result<HashMap<String, String>, CatchUpError> {
    let mut merged = HashMap::new();
    for name in names {
        let values: HashMap<String, String> = ctl_request(nats, format!("wasmbus.ctl.v1.{lattice}.config.get.{name}")).await?;
        merged.extend(values);
    }
    Ok(merged)
}

/// Hands one link to the provider through the SDK's own path for links (which also records it in
/// the SDK's table), with the config values the host would have resolved.
async fn hand_over<P: Provider>(provider: &P, connection: &ProviderConnection, link: &LatticeLink) -> anyhow::Result<()> {
    let provider_id: &str = &connection.provider_id;
    let config = resolve_config(&connection.nats, &connection.lattice, link.config_names(provider_id)).await?;
    let mut definition = InterfaceLinkDefinition {
        source_id: link.source_id.clone(),
        target: link.target.clone(),
        name: link.name.clone(),
        wit_namespace: link.wit_namespace.clone(),
        wit_package: link.wit_package.clone(),
        interfaces: link.interfaces.clone(),
        ..Default::default()
    };
    if link.target == provider_id {
        definition.target_config = config;
    } else {
        definition.source_config = config;
    }
    receive_link_for_provider(provider, connection, definition).await
}

async fn served<P: ServedLinks>(provider: &P, provider_id: &str, link: &LatticeLink) -> bool {
    !unserved(provider, provider_id, vec![link.clone()]).await.contains(link)
}

/// Runs for the provider's life: queries the lattice at [`ROUNDS_AFTER_START`], then every
/// [`ROUND_EVERY`] ([`CONFIRM_AFTER`] when a link was seen missing for the first time), and hands
/// over links confirmed missing by two rounds in a row.
pub async fn keep_links_caught_up<P: Provider + ServedLinks>(provider: P, connection: &ProviderConnection) {
    let provider_id = connection.provider_id.to_string();
    let mut previous: HashSet<LatticeLink> = HashSet::new();
    let started = tokio::time::Instant::now();
    let mut schedule = ROUNDS_AFTER_START.iter().map(|d| started + *d).collect::<Vec<_>>().into_iter();
    let mut unconfirmed = false;
    let mut secret_links_reported: HashSet<LatticeLink> = HashSet::new();
    loop {
        let pause = if unconfirmed { CONFIRM_AFTER } else { ROUND_EVERY };
        let next = schedule.next().unwrap_or_else(|| tokio::time::Instant::now() + pause);
        tokio::time::sleep_until(next).await;
        let links = match lattice_links(&connection.nats, &connection.lattice).await {
            Ok(links) => links,
            Err(e) => {
                warn!(error = %e, "link catch-up: could not list the lattice's links");
                continue;
            }
        };
        let current = unserved(&provider, &provider_id, links).await;
        let handing = confirmed(&previous, &current);
        unconfirmed = handing.len() < current.len();
        for link in handing {
            if link.config_names(&provider_id).iter().any(|c| c.starts_with(SECRET_PREFIX)) {
                if !secret_links_reported.insert(link.clone()) {
                    continue;
                }
                warn!(source = %link.source_id, target = %link.target, name = %link.name,
                    "link catch-up: the lattice lists a link this provider never received, and it carries secrets that only the host can hand over; delete and put the link again");
                continue;
            }
            let handed = hand_over(&provider, connection, &link).await;
            match handed {
                Ok(()) if served(&provider, &provider_id, &link).await => info!(source = %link.source_id, target = %link.target, name = %link.name,
                    "link catch-up: took over a link the host published before this provider listened"),
                Ok(()) => warn!(source = %link.source_id, target = %link.target, name = %link.name,
                    "link catch-up: the provider refused a link it never received (its error is logged above)"),
                Err(e) => warn!(source = %link.source_id, target = %link.target, name = %link.name, error = %format!("{e:#}"),
                    "link catch-up: could not hand over a link the provider never received"),
            }
        }
        previous = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::RwLock;

    fn link(source: &str, target: &str, name: &str) -> LatticeLink {
        LatticeLink {
            source_id: source.into(),
            target: target.into(),
            name: name.into(),
            wit_namespace: "wasi".into(),
            wit_package: "blobstore".into(),
            interfaces: vec!["blobstore".into()],
            source_config: vec![],
            target_config: vec!["t".into()],
        }
    }

    #[derive(Default)]
    struct Served(RwLock<HashSet<(String, String)>>);

    impl ServedLinks for Served {
        async fn serves_calls_from(&self, component: &str, link_name: &str) -> bool {
            self.0.read().await.contains(&(component.to_string(), link_name.to_string()))
        }
    }

    #[tokio::test]
    async fn only_links_naming_the_provider_and_not_served_are_candidates() {
        let served = Served::default();
        served.0.write().await.insert(("api".into(), "default".into()));
        let links = vec![
            link("api", "me", "default"),
            link("api", "me", "second"),
            link("api", "someone-else", "default"),
            link("me", "worker", "default"),
        ];
        let got = unserved(&served, "me", links).await;
        // served: api/default; not ours: someone-else; as source the default says served.
        assert_eq!(got, HashSet::from([link("api", "me", "second")]));
    }

    #[test]
    fn a_link_is_handed_over_only_when_two_rounds_in_a_row_list_it() {
        let a = link("api", "me", "default");
        let b = link("thumbnailer", "me", "default");
        let first = HashSet::from([a.clone()]);
        let second = HashSet::from([a.clone(), b.clone()]);
        assert!(confirmed(&HashSet::new(), &first).is_empty());
        assert_eq!(confirmed(&first, &second), vec![a.clone()]);
        // Gone from the lattice (deleted) in the second round: nothing to hand over.
        assert!(confirmed(&second, &HashSet::new()).is_empty());
    }

    #[test]
    fn the_control_interface_reply_parses_with_defaults() {
        let json = br#"{"success":true,"message":"","response":[{"source_id":"api","target":"me","wit_namespace":"wasi","wit_package":"keyvalue","interfaces":["store"],"target_config":["c1","c2"]}]}"#;
        let reply: CtlReply<Vec<LatticeLink>> = serde_json::from_slice(json).expect("parses");
        let links = reply.response.expect("has links");
        assert_eq!(links[0].name, "default");
        assert_eq!(links[0].config_names("me"), ["c1".to_string(), "c2".to_string()]);
        assert!(links[0].source_config.is_empty());
    }
}
