//! `wadm`: the wasmCloud application deployment manager, run from the `wadm` library.
//!
//! The flags are the library's own (`WadmConfig` with its `cli` feature), so `--version` prints
//! `wadm <library version>`, which is what `wash up` checks before it would download one.

use anyhow::Context as _;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;
use wadm::config::WadmConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = WadmConfig::parse();

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.structured_logging {
        builder.json().init();
    } else {
        builder.init();
    }

    let mut tasks = wadm::start_wadm(config)
        .await
        .context("failed to start wadm")?;
    info!("wadm started");

    let mut sigterm = signal(SignalKind::terminate()).context("failed to watch SIGTERM")?;
    tokio::select! {
        Some(ended) = tasks.join_next() => {
            // Every wadm task runs for the life of the process: one ending is a failure.
            match ended {
                Ok(Ok(())) => error!("a wadm task ended unexpectedly"),
                Ok(Err(err)) => error!(?err, "a wadm task failed"),
                Err(err) => error!(?err, "a wadm task panicked"),
            }
            tasks.abort_all();
            anyhow::bail!("wadm stopped because one of its tasks ended");
        }
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, stopping wadm"),
        _ = sigterm.recv() => info!("SIGTERM received, stopping wadm"),
    }
    tasks.abort_all();
    Ok(())
}
