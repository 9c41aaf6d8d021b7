//! Cloud and edge (README, "Cloud and edge"): `scripts/up --topology cloud-edge` brings up two
//! lattices on this machine — the cloud (hub nats-server, JetStream domain `cloud`, host
//! `zone=cloud`, deploy/cloud-edge/cloud.yaml) and the edge (a leaf nats-server of the hub,
//! domain `edge`, no `pixelbus.>` subjects over the link, host `zone=edge`,
//! deploy/cloud-edge/edge.yaml). The edge's leaf link runs through a TCP relay here, so the test
//! can cut it.
//!
//! Checked:
//! 1. the api and thumbnailer running on the cloud host and on the edge host are the same bytes:
//!    the sha256 each host reports in its inventory (the host adds it, see
//!    patches/wasmcloud-host-content-digest.patch), equal across zones and to build/*.wasm;
//! 2. the same upload to both zones' HTTP endpoints renders byte-identical variants and equal
//!    job JSON (ids, times and URLs aside), from different providers on each side;
//! 3. with the leaf link cut, the edge keeps accepting and rendering uploads and the cloud does
//!    not see them; once the link is back, the cloud lists every one of them, records equal to
//!    the edge's;
//! 4. moving a workload — the edge site's HTTP ingest — to the cloud and back is a changed
//!    manifest per zone deployed with `scripts/up --topology cloud-edge --zone Z --manifest F`
//!    (`wash app deploy` and the wait for it): after the move the cloud renders and stores what
//!    is uploaded to the edge site's address; after the move back the edge does again, and what
//!    each side stored meanwhile is still there.
//!
//! It also prints the same workload's latency and throughput on each side (for the README; no
//! timing is asserted).

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use pixelbus_e2e::{free_port, get, pixelbus_home, post_as, repo_root, test_jpeg, wait_for, Lattice};
use serde_json::Value;
use sha2::Digest as _;

/// A TCP relay between the edge's leaf connection and the hub: `cut` closes every connection
/// through it and refuses new ones until `restore`.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(to_port: u16) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the relay")?;
        let relay = Relay {
            port: listener.local_addr()?.port(),
            cut: Arc::default(),
            open: Arc::default(),
            stop: Arc::default(),
        };
        let (cut, open, stop) = (Arc::clone(&relay.cut), Arc::clone(&relay.open), Arc::clone(&relay.stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if cut.load(Ordering::SeqCst) {
                    continue; // dropped: the leaf sees its connection refused and retries
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", to_port)) else { continue };
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                if let Ok(mut open) = open.lock() {
                    open.extend([c3, s3]);
                }
                std::thread::spawn(move || pipe(client, s2));
                std::thread::spawn(move || pipe(server, c2));
            }
        });
        Ok(relay)
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Ok(mut open) = self.open.lock() {
            for stream in open.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// The two zones, stopped (edge first) when dropped.
struct Zones {
    edge: Lattice,
    cloud: Lattice,
}

/// What `scripts/up --topology cloud-edge` was started with: the name, state and ports both zones
/// derive theirs from.
struct Topology {
    name: String,
    state: std::path::PathBuf,
    cloud_nats: u16,
    cloud_http: u16,
    leaf: u16,
    edge_nats: u16,
    edge_http: u16,
    relay: u16,
}

impl Topology {
    /// `scripts/up --no-build --topology cloud-edge <args>` on this topology.
    fn up(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(repo_root().join("scripts/up"));
        cmd.args(["--no-build", "--topology", "cloud-edge"])
            .args(args)
            .env("PIXELBUS_LATTICE", &self.name)
            .env("PIXELBUS_STATE", &self.state)
            .env("PIXELBUS_NATS_PORT", self.cloud_nats.to_string())
            .env("PIXELBUS_HTTP_PORT", self.cloud_http.to_string())
            .env("PIXELBUS_LEAF_PORT", self.leaf.to_string())
            .env("PIXELBUS_EDGE_NATS_PORT", self.edge_nats.to_string())
            .env("PIXELBUS_EDGE_HTTP_PORT", self.edge_http.to_string())
            .env("PIXELBUS_LEAF_URL", format!("nats-leaf://127.0.0.1:{}", self.relay))
            .env_remove("PIXELBUS_API_TOKEN")
            .env("WASMCLOUD_HEARTBEAT_INTERVAL", "2")
            .stderr(std::process::Stdio::inherit());
        cmd
    }

    /// Deploys `manifest` to one zone (`--zone`), returning once that zone runs it.
    fn deploy(&self, zone: &str, manifest: &std::path::Path) -> anyhow::Result<()> {
        let out = self
            .up(&["--zone", zone, "--manifest"])
            .arg(manifest)
            .output()
            .with_context(|| format!("scripts/up --zone {zone}"))?;
        ensure!(out.status.success(), "scripts/up --topology cloud-edge --zone {zone} --manifest {} failed ({})", manifest.display(), out.status);
        Ok(())
    }
}

fn up(name: &str, relay_to: impl FnOnce(u16) -> anyhow::Result<Relay>) -> anyhow::Result<(Zones, Relay, Topology)> {
    let state = pixelbus_home().join("state").join(name);
    let (cloud_nats, cloud_http, leaf, edge_nats, edge_http) = (free_port()?, free_port()?, free_port()?, free_port()?, free_port()?);
    let relay = relay_to(leaf)?;
    let topology = Topology { name: name.to_string(), state: state.clone(), cloud_nats, cloud_http, leaf, edge_nats, edge_http, relay: relay.port };
    let out = topology.up(&[]).output().context("running scripts/up --topology cloud-edge")?;
    // Whatever came up is stopped on the way out, also when up failed half way.
    let attach = |zone: &str, nats: u16, http: u16| {
        let mut dir = state.clone().into_os_string();
        dir.push(format!("-{zone}"));
        Lattice::attach(&format!("{name}-{zone}"), nats, http, dir.into())
    };
    let cloud = attach("cloud", cloud_nats, cloud_http);
    let edge = attach("edge", edge_nats, edge_http);
    ensure!(out.status.success(), "scripts/up --topology cloud-edge failed ({}); see its output above", out.status);
    let urls = String::from_utf8_lossy(&out.stdout).into_owned();
    let (cloud, edge) = (cloud?, edge?);
    ensure!(
        urls.lines().collect::<Vec<_>>() == [cloud.base_url(), edge.base_url()],
        "scripts/up --topology cloud-edge printed {urls:?}, not the cloud's and the edge's URL"
    );
    Ok((Zones { edge, cloud }, relay, topology))
}

/// The `sha256:` digest each host reports for each of its components, by component id.
fn digests(zone: &Lattice, zone_label: &str) -> anyhow::Result<Vec<(String, String)>> {
    let out = zone.wash(&["get", "inventory", "-o", "json"])?;
    let inventories: Value = serde_json::from_str(&out).context("wash get inventory is not JSON")?;
    let hosts = inventories["inventories"].as_array().context("no inventories")?;
    ensure!(hosts.len() == 1, "{} hosts on {}", hosts.len(), zone.name);
    let host = &hosts[0];
    ensure!(host["labels"]["zone"] == zone_label, "the host of {} is not labelled zone={zone_label}: {}", zone.name, host["labels"]);
    let mut found = Vec::new();
    for component in host["components"].as_array().context("no components")? {
        let id = component["id"].as_str().unwrap_or_default().to_string();
        let digest = component["annotations"]["pixelbus.dev/content-digest"]
            .as_str()
            .with_context(|| format!("{id} on {} has no content digest in the inventory: {component}", zone.name))?;
        found.push((id, digest.to_string()));
    }
    found.sort();
    Ok(found)
}

fn upload(zone: &Lattice, image: &[u8]) -> anyhow::Result<String> {
    upload_to(&zone.base_url(), zone, image)
}

/// An upload to `url` with the token of the zone that serves it.
fn upload_to(url: &str, served_by: &Lattice, image: &[u8]) -> anyhow::Result<String> {
    let token = format!("Bearer {}", served_by.api_token);
    let (status, body) = post_as(&format!("{url}/images"), "image/jpeg", image, Some(&token))?;
    ensure!(status == 202, "upload to {url} (served by {}) -> {status}: {body}", served_by.name);
    Ok(body["id"].as_str().context("no id")?.to_string())
}

fn job(zone: &Lattice, id: &str) -> anyhow::Result<Option<Value>> {
    let (status, _, body) = get(&format!("{}/images/{id}", zone.base_url()))?;
    match status {
        200 => Ok(Some(serde_json::from_slice(&body)?)),
        404 => Ok(None),
        other => bail!("GET /images/{id} on {} -> {other}", zone.name),
    }
}

fn finished(zone: &Lattice, id: &str, within: Duration) -> anyhow::Result<Value> {
    wait_for(&format!("job {id} to finish on {}", zone.name), within, || {
        Ok(job(zone, id)?.filter(|j| j["status"] == "done" || j["status"] == "failed"))
    })
}

/// A job's JSON without what differs between two runs of the same work: ids, times, URLs.
fn comparable(job: &Value) -> Value {
    let mut job = job.clone();
    if let Some(map) = job.as_object_mut() {
        for key in ["id", "created_at", "created_ms", "started_ms", "updated_at", "updated_ms", "timings", "links"] {
            map.remove(key);
        }
        if let Some(variants) = map.get_mut("variants").and_then(Value::as_array_mut) {
            for v in variants.iter_mut().filter_map(Value::as_object_mut) {
                v.remove("url");
            }
        }
        if let Some(original) = map.get_mut("original").and_then(Value::as_object_mut) {
            original.remove("object");
        }
    }
    job
}

fn listed(zone: &Lattice) -> anyhow::Result<Vec<Value>> {
    let (status, _, body) = get(&format!("{}/images?limit=100", zone.base_url()))?;
    ensure!(status == 200, "GET /images on {} -> {status}", zone.name);
    let list: Value = serde_json::from_slice(&body)?;
    Ok(list["jobs"].as_array().cloned().unwrap_or_default())
}

pub fn same_bytes_edge_alone_and_a_move_by_manifest(_main: &Lattice) -> anyhow::Result<()> {
    let name = format!("pbtest-{}-ce", std::process::id());
    let started = Instant::now();
    let (zones, relay, topology) = up(&name, Relay::start)?;
    let up_s = started.elapsed().as_secs_f64();
    let result = proofs(&zones, &relay).and_then(|summary| {
        let side_by_side = [("cloud", &zones.cloud), ("edge", &zones.edge)]
            .map(|(zone, lattice)| workload(lattice).map(|w| format!("{zone} {w}")))
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()?;
        let moved = moves(&zones, &topology)?;
        Ok(format!("{summary}\ncloud/edge: the same workload: {}\ncloud/edge: {moved}", side_by_side.join("; ")))
    });
    if result.is_err() {
        zones.cloud.keep_logs("failed-cloud_edge-cloud");
        zones.edge.keep_logs("failed-cloud_edge-edge");
    }
    let summary = result?;
    drop(relay);
    drop(zones);
    println!("cloud/edge: both zones up in {up_s:.1} s; {summary}");
    Ok(())
}

/// `--zone` belongs to `--topology`: alone it is refused with a message, before anything starts.
pub fn zone_without_topology_is_refused(_main: &Lattice) -> anyhow::Result<()> {
    let out = std::process::Command::new(repo_root().join("scripts/up"))
        .args(["--no-build", "--zone", "edge"])
        .output()
        .context("running scripts/up --zone edge")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success() && stderr.contains("--zone is for --topology cloud-edge"), "scripts/up --zone edge: {}, {stderr}", out.status);
    let out = std::process::Command::new(repo_root().join("scripts/up"))
        .args(["--no-build", "--topology", "cloud-edge", "--manifest", "wadm.yaml"])
        .current_dir(repo_root())
        .output()
        .context("running scripts/up --topology cloud-edge --manifest wadm.yaml")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success() && stderr.contains("needs --zone"), "scripts/up --topology cloud-edge --manifest: {}, {stderr}", out.status);
    Ok(())
}

/// The same workload on one zone: 4 uploads one after another (median upload-to-done latency,
/// from the zone's own record times), then 12 at once from 4 clients (jobs per second from the
/// first accepted to the last finished). Printed, not asserted.
fn workload(zone: &Lattice) -> anyhow::Result<String> {
    let image = test_jpeg(1024, 768);
    let latency = |job: &Value| job["updated_ms"].as_u64().zip(job["created_ms"].as_u64()).map(|(u, c)| u.saturating_sub(c));
    let mut one_by_one = Vec::new();
    for _ in 0..4 {
        let id = upload(zone, &image)?;
        let done = finished(zone, &id, Duration::from_secs(60))?;
        ensure!(done["status"] == "done", "{}: {done}", zone.name);
        one_by_one.push(latency(&done).context("no created_ms/updated_ms")?);
    }
    one_by_one.sort_unstable();
    let ids = std::thread::scope(|s| {
        let clients: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..3).map(|_| upload(zone, &image)).collect::<anyhow::Result<Vec<_>>>()))
            .collect();
        clients.into_iter().map(|c| c.join().map_err(|_| anyhow::anyhow!("client panicked"))?).collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut jobs = Vec::new();
    for id in ids.iter().flatten() {
        let done = finished(zone, id, Duration::from_secs(120))?;
        ensure!(done["status"] == "done", "{}: {done}", zone.name);
        jobs.push(done);
    }
    let first = jobs.iter().filter_map(|j| j["created_ms"].as_u64()).min().context("no created_ms")?;
    let last = jobs.iter().filter_map(|j| j["updated_ms"].as_u64()).max().context("no updated_ms")?;
    Ok(format!(
        "1024x768 JPEG to 3 variants: {} ms median upload-to-done alone, {:.1} jobs/s with 12 at once",
        (one_by_one[1] + one_by_one[2]) / 2,
        jobs.len() as f64 * 1000.0 / last.saturating_sub(first).max(1) as f64
    ))
}

/// The manifest a zone runs now, as scripts/up rendered it (absolute paths, this test's ports,
/// the zone's token): the base of the changed manifests below.
fn running_manifest(zone: &Lattice, file: &str) -> anyhow::Result<String> {
    let path = zone.state_dir.join("rendered").join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// `manifest` without the component `name` (its lines up to the next component or the comment
/// above it).
fn without_component(manifest: &str, name: &str) -> anyhow::Result<String> {
    let start = format!("    - name: {name}");
    let mut out = String::new();
    let (mut skipping, mut found) = (false, false);
    for line in manifest.lines() {
        if line == start {
            (skipping, found) = (true, true);
        } else if skipping && (line.starts_with("    - name: ") || line.starts_with("    # ")) {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    ensure!(found, "no component {name} in the manifest");
    Ok(out)
}

/// `manifest` with a second link from its httpserver to the api, listening on `address`.
fn with_listener(manifest: &str, after_address: &str, link_name: &str, address: &str) -> anyhow::Result<String> {
    let anchor = format!("                    address: {after_address}\n");
    let at = manifest.find(&anchor).with_context(|| format!("no listener on {after_address} in the manifest"))? + anchor.len();
    let link = format!(
        "        - type: link
          properties:
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            name: {link_name}
            target:
              name: api
            source:
              config:
                - name: pixelbus-ce-{link_name}-address
                  properties:
                    address: {address}
"
    );
    Ok(format!("{}{link}{}", &manifest[..at], &manifest[at..]))
}

/// 4. The edge site's HTTP ingest moves to the cloud and back, by manifest.
fn moves(zones: &Zones, topology: &Topology) -> anyhow::Result<String> {
    let Zones { cloud, edge } = zones;
    let site = edge.base_url(); // the address the edge site's clients upload to
    let site_address = format!("127.0.0.1:{}", edge.http_port);
    let image = test_jpeg(800, 600);
    let before = upload_to(&site, edge, &image)?;
    ensure!(finished(edge, &before, Duration::from_secs(60))?["status"] == "done", "edge job {before}");

    // The move: the edge stops serving HTTP, then the cloud opens the site's address. The one
    // giving the address up goes first; uploads to the site are refused in between.
    let edge_moved = edge.state_dir.join("edge-without-http.yaml");
    std::fs::write(&edge_moved, without_component(&running_manifest(edge, "edge.yaml")?, "httpserver")?)?;
    let cloud_moved = cloud.state_dir.join("cloud-with-edge-site.yaml");
    let cloud_now = running_manifest(cloud, "cloud.yaml")?;
    std::fs::write(&cloud_moved, with_listener(&cloud_now, &format!("127.0.0.1:{}", cloud.http_port), "edge-site", &site_address)?)?;
    let move_started = Instant::now();
    topology.deploy("edge", &edge_moved)?;
    // The host closes a listener when its link goes, as the provider stops: soon after wadm is done.
    wait_for(&format!("the edge to stop listening on {site_address}"), Duration::from_secs(10), || {
        Ok(std::net::TcpStream::connect(&site_address).is_err().then_some(()))
    })?;
    topology.deploy("cloud", &cloud_moved)?;
    let moved_in = move_started.elapsed();

    // Served by the cloud now: the record is the cloud's at once, the images are in the cloud's
    // blobstore (the cloud answers 404 for images the edge rendered, proof 3).
    let moved = upload_to(&site, cloud, &image)?;
    let on_cloud = finished(cloud, &moved, Duration::from_secs(60))?;
    ensure!(on_cloud["status"] == "done", "job {moved} uploaded to the site after the move: {on_cloud}");
    let (status, _, thumb_from_cloud) = get(&format!("{}/images/{moved}/thumb", cloud.base_url()))?;
    ensure!(status == 200, "the cloud has no thumbnail of {moved}, uploaded to the site after the move ({status})");
    let (status, _, thumb_from_site) = get(&format!("{site}/images/{moved}/thumb"))?;
    ensure!(status == 200 && thumb_from_site == thumb_from_cloud, "the site's thumbnail of {moved}: {status}");

    // And back: the original manifests, the cloud giving the address up first.
    let back_started = Instant::now();
    topology.deploy("cloud", &repo_root().join("deploy/cloud-edge/cloud.yaml"))?;
    topology.deploy("edge", &repo_root().join("deploy/cloud-edge/edge.yaml"))?;
    let back_in = back_started.elapsed();
    let back = upload_to(&site, edge, &image)?;
    ensure!(finished(edge, &back, Duration::from_secs(60))?["status"] == "done", "edge job {back} after the move back");
    let (status, _, _) = get(&format!("{}/images/{back}/thumb", cloud.base_url()))?;
    ensure!(status == 404, "the cloud has the thumbnail of {back}, uploaded after the move back ({status})");
    // Nothing either side stored was lost by the moves.
    let (status, _, _) = get(&format!("{site}/images/{before}/thumb"))?;
    ensure!(status == 200, "the edge lost the thumbnail of {before}, rendered before the move ({status})");
    let (status, _, _) = get(&format!("{}/images/{moved}/thumb", cloud.base_url()))?;
    ensure!(status == 200, "the cloud lost the thumbnail of {moved}, rendered while it served the site ({status})");
    let same = finished(edge, &before, Duration::from_secs(1))?;
    ensure!(same["status"] == "done", "the edge's record of {before} after the moves: {same}");
    Ok(format!(
        "the edge site's ingest moved to the cloud in {:.1} s (two deploys) and back in {:.1} s; each side kept what it stored",
        moved_in.as_secs_f64(),
        back_in.as_secs_f64()
    ))
}

fn proofs(zones: &Zones, relay: &Relay) -> anyhow::Result<String> {
    let Zones { cloud, edge } = zones;

    // 1. The same component bytes on both hosts, as the hosts report them.
    let on_cloud = digests(cloud, "cloud")?;
    let on_edge = digests(edge, "edge")?;
    for (id, file) in [("pixelbus-api", "build/api.wasm"), ("pixelbus-thumbnailer", "build/thumbnailer.wasm")] {
        let local = format!("sha256:{:x}", sha2::Sha256::digest(std::fs::read(repo_root().join(file))?));
        let cloud_digest = on_cloud.iter().find(|(i, _)| i == id).with_context(|| format!("{id} not on the cloud host: {on_cloud:?}"))?;
        let edge_digest = on_edge.iter().find(|(i, _)| i == id).with_context(|| format!("{id} not on the edge host: {on_edge:?}"))?;
        ensure!(cloud_digest.1 == edge_digest.1, "{id}: cloud runs {}, edge runs {}", cloud_digest.1, edge_digest.1);
        ensure!(cloud_digest.1 == local, "{id}: the hosts run {}, {file} is {local}", cloud_digest.1);
    }

    // 2. The same upload to both zones: identical variants, equal records.
    let image = test_jpeg(1024, 768);
    let (cloud_id, edge_id) = (upload(cloud, &image)?, upload(edge, &image)?);
    let cloud_job = finished(cloud, &cloud_id, Duration::from_secs(60))?;
    let edge_job = finished(edge, &edge_id, Duration::from_secs(60))?;
    ensure!(cloud_job["status"] == "done" && edge_job["status"] == "done", "cloud: {cloud_job}\nedge: {edge_job}");
    ensure!(comparable(&cloud_job) == comparable(&edge_job), "the records differ:\ncloud: {cloud_job}\nedge: {edge_job}");
    let variants = cloud_job["variants"].as_array().context("no variants")?;
    ensure!(!variants.is_empty(), "no variants rendered: {cloud_job}");
    for variant in variants {
        let name = variant["name"].as_str().context("variant without a name")?;
        let (s1, _, from_cloud) = get(&format!("{}/images/{cloud_id}/{name}", cloud.base_url()))?;
        let (s2, _, from_edge) = get(&format!("{}/images/{edge_id}/{name}", edge.base_url()))?;
        ensure!(s1 == 200 && s2 == 200, "GET variant {name}: cloud {s1}, edge {s2}");
        ensure!(from_cloud == from_edge, "variant {name}: {} bytes from the cloud, {} from the edge, not the same bytes", from_cloud.len(), from_edge.len());
    }

    // The cloud lists the edge's job once the edge's events reach it over the link.
    let synced = wait_for("the cloud to list the edge's job", Duration::from_secs(90), || job(cloud, &edge_id))?;
    ensure!(synced == edge_job, "the cloud's copy of the edge's record differs:\ncloud: {synced}\nedge: {edge_job}");

    // 3. Cut the link: the edge works alone; the cloud sees nothing of it until the link is back.
    relay.cut();
    let mut alone = Vec::new();
    for i in 0..3 {
        alone.push(upload(edge, &test_jpeg(320 + 64 * i, 240))?);
    }
    for id in &alone {
        let done = finished(edge, id, Duration::from_secs(60))?;
        ensure!(done["status"] == "done", "edge job {id} with the link cut: {done}");
    }
    for id in &alone {
        ensure!(job(cloud, id)?.is_none(), "the cloud has edge job {id} while the link is cut");
    }
    let (status, _, _) = get(&format!("{}/healthz", cloud.base_url()))?;
    ensure!(status == 200, "the cloud's /healthz with the link cut -> {status}");
    let cut_at = Instant::now();
    relay.restore();
    wait_for("the cloud to list the edge's jobs from while the link was cut", Duration::from_secs(60), || {
        let ids: Vec<String> = listed(cloud)?.iter().filter_map(|j| j["id"].as_str().map(str::to_string)).collect();
        Ok(alone.iter().all(|id| ids.contains(id)).then_some(()))
    })?;
    let caught_up = cut_at.elapsed();
    for id in &alone {
        let (on_cloud, on_edge) = (job(cloud, id)?, job(edge, id)?);
        ensure!(on_cloud == on_edge, "job {id}: cloud {on_cloud:?}, edge {on_edge:?}");
    }
    // Records only: the images stay where they were rendered.
    let (status, _, _) = get(&format!("{}/images/{}/thumb", cloud.base_url(), alone[0]))?;
    ensure!(status == 404, "the cloud serves the edge's thumbnail ({status}): images are not synchronised");

    Ok(format!(
        "api and thumbnailer digests equal on both hosts and to build/; one upload rendered the same {} variants on both; \
         with the link cut the edge finished {} uploads, listed by the cloud {:.1} s after the link came back",
        variants.len(),
        alone.len(),
        caught_up.as_secs_f64()
    ))
}
