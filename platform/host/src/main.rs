//! `pixelbus-host`: runs a wasmCloud v1 host (the `wasmcloud-host` library) until it is told to
//! stop by a signal or by the lattice (`wash down`, `wash stop host`).

mod cli;
mod creds;

use anyhow::Context as _;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};
use wasmcloud_core::OtelConfig;
use wasmcloud_host::wasmbus::Host;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = cli::Args::parse();
    let config = args.host_config(cli::labels_from_env(std::env::vars()))?;

    let (dispatch, _flush_guard) = wasmcloud_tracing::configure_observability(
        "pixelbus-host",
        &OtelConfig::default(),
        args.structured_logging,
        None::<&std::path::Path>,
        Some(&args.log_level),
        None,
    )
    .context("failed to configure logging")?;
    tracing::dispatcher::set_global_default(dispatch).context("failed to install logger")?;

    let (host, shutdown) = Host::new(config)
        .await
        .context("failed to start the wasmCloud host")?;
    info!(lattice = %args.lattice, "pixelbus host started");

    let mut sigterm = signal(SignalKind::terminate()).context("failed to watch SIGTERM")?;
    tokio::select! {
        stopped = host.stopped() => {
            if let Err(err) = stopped {
                warn!(?err, "host stop channel closed");
            }
            info!("host stopped by the lattice");
        }
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, stopping host"),
        _ = sigterm.recv() => info!("SIGTERM received, stopping host"),
    }
    shutdown.await.context("host shutdown failed")?;
    Ok(())
}
