//! Provider cases, run against the lattice brought up in `lattice.rs`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{post, test_jpeg, wait_for, Lattice};
use serde_json::{json, Value};

use crate::pipeline::wait_done;

/// The providers behind the api's upload path in wadm.yaml: one of ours, and the upstream
/// blobstore-fs (served through our `TrackedLinks` wrapper).
const FORGETFUL: [&str; 2] = ["pixelbus-keyvalue-nats", "pixelbus-blobstore-fs"];

/// Sends a link-delete to the provider alone, as if it had never received the link: the lattice
/// still lists the link. The same state a link put lost while the provider was starting leaves.
fn make_provider_forget(lattice: &Lattice, link: &Value) -> anyhow::Result<()> {
    let target = link["target"].as_str().context("link without a target")?;
    let subject = format!("wasmbus.rpc.{}.{target}.linkdefs.del", lattice.name);
    let payload = json!({
        "source_id": link["source_id"], "target": target, "name": link["name"],
        "wit_namespace": link["wit_namespace"], "wit_package": link["wit_package"],
        "interfaces": link["interfaces"],
    });
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let nats = async_nats::connect(format!("127.0.0.1:{}", lattice.nats_port)).await?;
        nats.publish(subject, serde_json::to_vec(&payload)?.into()).await?;
        nats.flush().await?;
        anyhow::Ok(())
    })
}

/// A provider missing a link the lattice lists takes it over from the lattice (the control
/// interface's link and config queries) instead of refusing that component's calls forever.
pub fn a_link_a_provider_missed_is_caught_up(lattice: &Lattice) -> anyhow::Result<()> {
    let links: Value = serde_json::from_str(&lattice.wash(&["link", "query", "-o", "json"])?)?;
    let api_links: Vec<Value> = links["links"]
        .as_array()
        .context("no links in `wash link query`")?
        .iter()
        .filter(|l| l["source_id"] == "pixelbus-api" && FORGETFUL.iter().any(|t| l["target"] == *t))
        .cloned()
        .collect();
    ensure!(api_links.len() == FORGETFUL.len(), "api links to {FORGETFUL:?}: {api_links:?}");

    let url = format!("{}/images", lattice.base_url());
    let image = test_jpeg(320, 240);
    let (status, body) = post(&url, "image/jpeg", &image)?;
    ensure!(status == 202, "upload before the providers forget -> {status}: {body}");

    for link in &api_links {
        make_provider_forget(lattice, link)?;
    }
    let forgotten_at = Instant::now();
    let refusal = wait_for("the api's uploads to be refused", Duration::from_secs(10), || {
        let (status, body) = post(&url, "image/jpeg", &image)?;
        Ok((status == 503).then_some(body))
    })?;
    let message = refusal["error"]["message"].as_str().unwrap_or_default();
    ensure!(message.contains("link") || message.contains("configuration"), "refused for another reason than a missing link: {refusal}");

    let accepted = wait_for("the providers to catch their links up", Duration::from_secs(60), || {
        let (status, body) = post(&url, "image/jpeg", &image)?;
        Ok((status == 202).then_some(body))
    })?;
    println!(
        "providers forgot the api's links ({message}); uploads accepted again {:.1}s later",
        forgotten_at.elapsed().as_secs_f64()
    );
    let id = accepted["id"].as_str().context("no id")?;
    let job = wait_done(lattice, id)?;
    ensure!(job["status"] == "done", "job after the catch-up ended {}: {job}", job["status"]);
    Ok(())
}
