//! Start-up shared by pixelbus' capability providers, so each `run()` is one line:
//!
//! ```ignore
//! pub async fn run() -> anyhow::Result<()> {
//!     pixelbus_provider_main::serve!(MyProvider::default(), "my-provider", bindings::serve)
//! }
//! ```

mod catch_up;
mod tracked;

pub use catch_up::{keep_links_caught_up, lattice_links, CatchUpError, LatticeLink, ServedLinks};
pub use tracked::TrackedLinks;

use std::collections::HashMap;
use std::sync::Arc;

pub use anyhow;
pub use tokio;
pub use wasmcloud_provider_sdk;
use tokio::sync::RwLock;
use wasmcloud_provider_sdk::core::secrets::SecretValue;
use wasmcloud_provider_sdk::Context;

/// Logs to stderr (the host collects providers' stderr); `RUST_LOG` overrides the default.
pub fn init_logging() {
    use wasmcloud_provider_sdk::tracing_subscriber::{fmt, EnvFilter};
    fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,async_nats=warn".into()))
        .with_writer(std::io::stderr)
        .init();
}

/// A link's string secrets (binary ones are not used by our providers).
pub fn secret_strings(secrets: &HashMap<String, SecretValue>) -> HashMap<String, String> {
    secrets.iter().filter_map(|(k, v)| v.as_string().map(|s| (k.clone(), s.to_string()))).collect()
}

/// A provider's links, keyed by (component id, link name): a component may link the same
/// provider several times under different link names.
pub struct LinkTable<L> {
    links: RwLock<HashMap<(String, String), Arc<L>>>,
}

impl<L> Default for LinkTable<L> {
    fn default() -> Self {
        LinkTable { links: RwLock::new(HashMap::new()) }
    }
}

/// A call came from a component and link name the provider has no link for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLink {
    pub component: String,
    pub link_name: String,
}

impl<L> LinkTable<L> {
    /// Adds a link; returns the one of the same component and name it replaced.
    pub async fn insert(&self, component: &str, link_name: &str, link: L) -> Option<Arc<L>> {
        self.links.write().await.insert((component.to_string(), link_name.to_string()), Arc::new(link))
    }

    pub async fn remove(&self, component: &str, link_name: &str) -> Option<Arc<L>> {
        self.links.write().await.remove(&(component.to_string(), link_name.to_string()))
    }

    pub async fn contains(&self, component: &str, link_name: &str) -> bool {
        self.links.read().await.contains_key(&(component.to_string(), link_name.to_string()))
    }

    pub async fn len(&self) -> usize {
        self.links.read().await.len()
    }

    /// Removes every link (at shutdown).
    pub async fn drain(&self) -> Vec<Arc<L>> {
        self.links.write().await.drain().map(|(_, link)| link).collect()
    }

    /// The link a call came through: the calling component and the link name in its context
    /// (`default` when it names none).
    pub async fn for_call(&self, cx: &Option<Context>) -> Result<Arc<L>, MissingLink> {
        let component = cx.as_ref().and_then(|c| c.component.clone()).unwrap_or_default();
        let link_name = cx.as_ref().map_or("default", Context::link_name).to_string();
        let found = self.links.read().await.get(&(component.clone(), link_name.clone())).cloned();
        found.ok_or(MissingLink { component, link_name })
    }
}

/// Runs a provider until the host shuts it down: logging, the SDK's run loop, a wRPC client on
/// the provider's key, its exports served by `$serve` (the bindings' generated `serve`), and the
/// link catch-up ([`keep_links_caught_up`]) beside them. The provider says which links it serves
/// ([`ServedLinks`]); one from another crate goes through [`serve_tracked!`] instead.
/// A macro, not a function: `$serve`'s future borrows the client it is handed.
#[macro_export]
macro_rules! serve {
    ($provider:expr, $name:expr, $serve:path) => {{
        let provider = $provider;
        $crate::serve_split!(provider.clone(), provider, $name, $serve)
    }};
}

/// [`serve!`] for a provider that does not implement [`ServedLinks`]: links go through a
/// [`TrackedLinks`] wrapper that records what it accepted; exports go to the provider itself
/// (both share the provider's state, as its clones do).
#[macro_export]
macro_rules! serve_tracked {
    ($provider:expr, $name:expr, $serve:path) => {{
        let provider = $provider;
        $crate::serve_split!($crate::TrackedLinks::new(provider.clone()), provider, $name, $serve)
    }};
}

/// The body of [`serve!`]: `$links` receives the host's links and is caught up, `$exports`
/// answers calls.
#[doc(hidden)]
#[macro_export]
macro_rules! serve_split {
    ($links:expr, $exports:expr, $name:expr, $serve:path) => {{
        use $crate::anyhow::Context as _;
        $crate::init_logging();
        let links = $links;
        let shutdown = $crate::wasmcloud_provider_sdk::run_provider(links.clone(), $name)
            .await
            .context("failed to start the provider")?;
        let connection = $crate::wasmcloud_provider_sdk::get_connection();
        let wrpc = connection
            .get_wrpc_client(connection.provider_key())
            .await
            .context("failed to create the wRPC client")?;
        let catch_up = $crate::tokio::spawn($crate::keep_links_caught_up(links, connection));
        let served = $crate::wasmcloud_provider_sdk::serve_provider_exports(&wrpc, $exports, shutdown, $serve)
            .await
            .context("provider exports stopped");
        catch_up.abort();
        served
    }};
}
