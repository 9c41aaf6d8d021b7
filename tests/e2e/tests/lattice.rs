//! End-to-end tests against one real lattice brought up by `scripts/up` for this run.
//!
//! A custom harness (libtest-mimic) so the lattice is started once, every case runs against it in
//! order, and the last case stops it with `scripts/down` and checks nothing is left running.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use libtest_mimic::{Arguments, Failed, Trial};
use pixelbus_e2e::{get, pid_alive, wait_for, Lattice};
use serde_json::Value;

mod bindings;
mod browser;
mod cloud_edge;
mod faults;
mod nats_creds;
mod nats_restart;
mod pipeline;
mod providers;
mod robustness;
mod slow_uploads;
mod trap;

type Shared = Arc<Mutex<Option<Lattice>>>;

fn case(
    name: &'static str,
    lattice: &Shared,
    body: fn(&Lattice) -> anyhow::Result<()>,
) -> Trial {
    let lattice = Arc::clone(lattice);
    Trial::test(name, move || {
        let guard = lattice.lock().map_err(|_| Failed::from("lattice lock poisoned"))?;
        let lattice = guard.as_ref().ok_or("the lattice is not running")?;
        body(lattice).map_err(|e| {
            let case = name.replace("::", "-");
            Failed::from(format!("{e:#}\n{}", lattice.keep_logs(&format!("failed-{case}"))))
        })
    })
}

fn main() {
    let mut args = Arguments::from_args();
    // The cases share one lattice and the last one stops it: run them in order.
    args.test_threads = Some(1);

    let lattice: Shared = match Lattice::up() {
        Ok(l) => Arc::new(Mutex::new(Some(l))),
        Err(err) => {
            eprintln!("could not bring up the test lattice: {err:#}");
            std::process::exit(1);
        }
    };

    let trials = vec![
        case("platform::app_is_deployed", &lattice, app_is_deployed),
        case("platform::host_runs_our_launcher", &lattice, host_runs_our_launcher),
        case("platform::healthz_answers_200_json", &lattice, healthz_answers_200_json),
        case("platform::unknown_route_is_404_json", &lattice, unknown_route_is_404_json),
        case("platform::up_is_idempotent", &lattice, up_is_idempotent),
        case("pipeline::upload_renders_every_variant", &lattice, pipeline::upload_renders_every_variant),
        case("pipeline::multipart_upload_is_accepted", &lattice, pipeline::multipart_upload_is_accepted),
        case("pipeline::bad_uploads_get_4xx_json", &lattice, pipeline::bad_uploads_get_4xx_json),
        case("pipeline::unknown_ids_and_methods", &lattice, pipeline::unknown_ids_and_methods),
        case("pipeline::nats_submit_alone_finishes_a_job", &lattice, pipeline::nats_submit_alone_finishes_a_job),
        case("pipeline::listing_is_newest_first", &lattice, pipeline::listing_is_newest_first),
        case("pipeline::delete_removes_job_and_blobs", &lattice, pipeline::delete_removes_job_and_blobs),
        case("pipeline::changes_need_the_api_token", &lattice, pipeline::changes_need_the_api_token),
        case("browser::gallery_in_chromium", &lattice, browser::gallery_in_chromium),
        case("browser::local_resize_in_the_tab", &lattice, browser::local_resize_in_the_tab),
        case("robustness::bad_and_odd_inputs_over_http", &lattice, robustness::bad_and_odd_inputs_over_http),
        case("robustness::bad_and_odd_inputs_over_nats", &lattice, robustness::bad_and_odd_inputs_over_nats),
        case("slow_uploads::slow_and_abandoned_uploads_are_let_go", &lattice, slow_uploads::slow_and_abandoned_uploads_are_let_go),
        case("trap::a_trapping_component_costs_one_job", &lattice, trap::a_trapping_component_costs_one_job),
        case("providers::a_link_a_provider_missed_is_caught_up", &lattice, providers::a_link_a_provider_missed_is_caught_up),
        case("bindings::bindings_swap_by_manifest_alone", &lattice, bindings::bindings_swap_by_manifest_alone),
        case("nats_restart::nats_restarted_mid_load_loses_no_job", &lattice, nats_restart::nats_restarted_mid_load_loses_no_job),
        case("nats_creds::a_leaf_lattice_authenticates_to_its_hub", &lattice, nats_creds::a_leaf_lattice_authenticates_to_its_hub),
        case("cloud_edge::zone_without_topology_is_refused", &lattice, cloud_edge::zone_without_topology_is_refused),
        case(
            "cloud_edge::same_bytes_edge_alone_and_a_move_by_manifest",
            &lattice,
            cloud_edge::same_bytes_edge_alone_and_a_move_by_manifest,
        ),
        case("faults::lattice_restart_keeps_finished_jobs", &lattice, faults::lattice_restart_keeps_finished_jobs),
        // Replaces the host: after the cases that expect the original one, and after the swaps so
        // it also shows a host started later finds everything it needs (the component configs).
        case("faults::host_killed_mid_load_loses_no_job", &lattice, faults::host_killed_mid_load_loses_no_job),
        {
            let lattice = Arc::clone(&lattice);
            Trial::test("platform::down_leaves_no_process", move || {
                let taken = lattice.lock().map_err(|_| "lattice lock poisoned")?.take();
                let mut lattice = taken.ok_or("the lattice is not running")?;
                down_leaves_no_process(&mut lattice).map_err(|e| Failed::from(format!("{e:#}")))
            })
        },
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop the lattice if the last case did not run (filtered out or an earlier panic).
    if let Ok(mut guard) = lattice.lock() {
        if let Some(mut l) = guard.take() {
            let _ = l.down();
        }
    }
    conclusion.exit();
}

fn app_is_deployed(lattice: &Lattice) -> anyhow::Result<()> {
    let out = lattice.wash(&["app", "list", "-o", "json"])?;
    let list: Value = serde_json::from_str(&out).context("wash app list -o json is not JSON")?;
    let apps = list["applications"].as_array().context("no applications array")?;
    let app = apps
        .iter()
        .find(|a| a["name"] == "pixelbus")
        .with_context(|| format!("pixelbus not in wash app list: {out}"))?;
    let status = app["status"].as_str().unwrap_or_default().to_ascii_lowercase();
    ensure!(status == "deployed", "pixelbus status is {status:?}: {app}");
    Ok(())
}

fn host_runs_our_launcher(lattice: &Lattice) -> anyhow::Result<()> {
    let out = lattice.wash(&["get", "hosts", "-o", "json"])?;
    let hosts: Value = serde_json::from_str(&out).context("wash get hosts is not JSON")?;
    let host = &hosts["hosts"][0];
    ensure!(
        host["labels"]["pixelbus.lattice"] == lattice.name.as_str(),
        "host is not labelled with this lattice: {host}"
    );
    Ok(())
}

fn healthz_answers_200_json(lattice: &Lattice) -> anyhow::Result<()> {
    let (status, content_type, body) = get(&format!("{}/healthz", lattice.base_url()))?;
    ensure!(status == 200, "GET /healthz -> {status}");
    ensure!(content_type == "application/json", "content-type {content_type}");
    let body: Value = serde_json::from_slice(&body)?;
    ensure!(body["status"] == "ok", "body {body}");
    Ok(())
}

fn unknown_route_is_404_json(lattice: &Lattice) -> anyhow::Result<()> {
    let (status, _, body) = get(&format!("{}/no-such-route", lattice.base_url()))?;
    ensure!(status == 404, "GET /no-such-route -> {status}");
    let body: Value = serde_json::from_slice(&body).context("404 body is not JSON")?;
    ensure!(body["error"]["code"] == "not_found", "body {body}");
    Ok(())
}

fn up_is_idempotent(lattice: &Lattice) -> anyhow::Result<()> {
    let pids_before = lattice.pids();
    let status = lattice.script("up").arg("--no-build").status()?;
    ensure!(status.success(), "second scripts/up failed: {status}");
    ensure!(
        lattice.pids() == pids_before,
        "second scripts/up started new processes"
    );
    let (code, _, _) = get(&format!("{}/healthz", lattice.base_url()))?;
    ensure!(code == 200, "GET /healthz after re-up -> {code}");
    Ok(())
}

fn down_leaves_no_process(lattice: &mut Lattice) -> anyhow::Result<()> {
    let pids = lattice.pids();
    ensure!(pids.len() >= 3, "expected nats, wadm and host pid files, got {pids:?}");
    // The host's children are the providers; they must go too.
    let mut all = pids.clone();
    for pid in &pids {
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    lattice.down()?;
    let left: Vec<u32> = wait_for("processes to exit", Duration::from_secs(10), || {
        let alive: Vec<u32> = all.iter().copied().filter(|p| pid_alive(*p)).collect();
        Ok(alive.is_empty().then_some(alive))
    })
    .or_else(|_| -> anyhow::Result<Vec<u32>> {
        Ok(all.iter().copied().filter(|p| pid_alive(*p)).collect())
    })?;
    if !left.is_empty() {
        bail!("processes still running after scripts/down: {left:?}");
    }
    ensure!(
        std::net::TcpStream::connect(("127.0.0.1", lattice.nats_port)).is_err(),
        "NATS port {} still open after scripts/down",
        lattice.nats_port
    );
    Ok(())
}
