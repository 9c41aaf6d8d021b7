//! Start-up shared by pixelbus' capability providers, so each `run()` is one line:
//!
//! ```ignore
//! pub async fn run() -> anyhow::Result<()> {
//!     pixelbus_provider_main::serve!(MyProvider::default(), "my-provider", bindings::serve)
//! }
//! ```

use std::collections::HashMap;

pub use anyhow;
pub use wasmcloud_provider_sdk;
use wasmcloud_provider_sdk::core::secrets::SecretValue;

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

/// Runs a provider until the host shuts it down: logging, the SDK's run loop, a wRPC client on
/// the provider's key, and its exports served by `$serve` (the bindings' generated `serve`).
/// A macro, not a function: `$serve`'s future borrows the client it is handed.
#[macro_export]
macro_rules! serve {
    ($provider:expr, $name:expr, $serve:path) => {{
        use $crate::anyhow::Context as _;
        $crate::init_logging();
        let provider = $provider;
        let shutdown = $crate::wasmcloud_provider_sdk::run_provider(provider.clone(), $name)
            .await
            .context("failed to start the provider")?;
        let connection = $crate::wasmcloud_provider_sdk::get_connection();
        let wrpc = connection
            .get_wrpc_client(connection.provider_key())
            .await
            .context("failed to create the wRPC client")?;
        $crate::wasmcloud_provider_sdk::serve_provider_exports(&wrpc, provider, shutdown, $serve)
            .await
            .context("provider exports stopped")
    }};
}
