//! Pipeline cases, run against the lattice brought up in `lattice.rs`.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{api_token, delete, delete_as, get, post, post_as, test_jpeg, wait_for, Lattice};
use serde_json::Value;

/// Polls the job until it is done (or failed), returning its JSON.
pub fn wait_done(lattice: &Lattice, id: &str) -> anyhow::Result<Value> {
    let url = format!("{}/images/{id}", lattice.base_url());
    wait_for(&format!("job {id} to finish"), Duration::from_secs(60), || {
        let (status, _, body) = get(&url)?;
        ensure!(status == 200, "GET {url} -> {status}");
        let job: Value = serde_json::from_slice(&body)?;
        Ok(matches!(job["status"].as_str(), Some("done" | "failed")).then_some(job))
    })
}

pub fn upload_renders_every_variant(lattice: &Lattice) -> anyhow::Result<()> {
    let image = test_jpeg(1600, 1200);
    let (status, accepted) = post(&format!("{}/images", lattice.base_url()), "image/jpeg", &image)?;
    ensure!(status == 202, "upload -> {status}: {accepted}");
    ensure!(accepted["status"] == "queued", "{accepted}");
    let id = accepted["id"].as_str().context("no id")?;
    let job = wait_done(lattice, id)?;
    ensure!(job["status"] == "done", "job ended {}: {job}", job["status"]);
    ensure!(job["source"]["width"] == 1600 && job["source"]["format"] == "jpeg", "{job}");
    let expected = [("thumb", 128, 96), ("small", 480, 360), ("medium", 1024, 768)];
    let variants = job["variants"].as_array().context("no variants")?;
    ensure!(variants.len() == expected.len(), "variants: {variants:?}");
    for (name, w, h) in expected {
        let (status, content_type, body) = get(&format!("{}/images/{id}/{name}", lattice.base_url()))?;
        ensure!(status == 200 && content_type == "image/jpeg", "{name}: {status} {content_type}");
        let decoded = image::load_from_memory(&body).with_context(|| format!("{name} does not decode"))?;
        ensure!((decoded.width(), decoded.height()) == (w, h), "{name} is {}x{}", decoded.width(), decoded.height());
    }
    let (status, _, original) = get(&format!("{}/images/{id}/original", lattice.base_url()))?;
    ensure!(status == 200 && original == image, "original differs ({status})");
    Ok(())
}

pub fn multipart_upload_is_accepted(lattice: &Lattice) -> anyhow::Result<()> {
    let image = test_jpeg(300, 200);
    let mut body = b"--XbOuNdArY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
    body.extend_from_slice(&image);
    body.extend_from_slice(b"\r\n--XbOuNdArY--\r\n");
    let (status, accepted) = post(&format!("{}/images", lattice.base_url()), "multipart/form-data; boundary=XbOuNdArY", &body)?;
    ensure!(status == 202, "upload -> {status}: {accepted}");
    let job = wait_done(lattice, accepted["id"].as_str().context("no id")?)?;
    ensure!(job["status"] == "done" && job["source"]["width"] == 300, "{job}");
    Ok(())
}

pub fn bad_uploads_get_4xx_json(lattice: &Lattice) -> anyhow::Result<()> {
    let url = format!("{}/images", lattice.base_url());
    let mut truncated = test_jpeg(400, 300);
    truncated.truncate(40);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty body", Vec::new(), 400, "bad_request"),
        ("text file", b"hello, I am not an image".to_vec(), 415, "unsupported_media_type"),
        ("truncated jpeg header", truncated, 400, "invalid_image"),
    ];
    for (what, body, want_status, want_code) in cases {
        let (status, err) = post(&url, "image/jpeg", &body)?;
        ensure!(status == want_status, "{what}: {status} (wanted {want_status}): {err}");
        ensure!(err["error"]["code"] == want_code, "{what}: {err}");
        ensure!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: no message");
    }
    // Over the limit: refused from the declared length, before the body is sent.
    let (status, err) = pixelbus_e2e::post_head_only(lattice.http_port, "/images", 26 * 1024 * 1024 + 128 * 1024)?;
    ensure!(status == 413 && err["error"]["code"] == "too_large", "over the limit: {status} {err}");
    let (status, _, _) = get(&format!("{}/healthz", lattice.base_url()))?;
    ensure!(status == 200, "lattice stopped serving after bad uploads");
    Ok(())
}

pub fn unknown_ids_and_methods(lattice: &Lattice) -> anyhow::Result<()> {
    let base = lattice.base_url();
    for path in ["/images/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/images/not-an-id/thumb", "/images/../../etc/passwd"] {
        let (status, content_type, body) = get(&format!("{base}{path}"))?;
        ensure!(status == 404 && content_type == "application/json", "{path}: {status} {content_type}");
        let body: Value = serde_json::from_slice(&body)?;
        ensure!(body["error"]["code"] == "not_found", "{path}: {body}");
    }
    let resp = pixelbus_e2e::http().put(&format!("{base}/images")).send(&b"x"[..])?;
    ensure!(resp.status().as_u16() == 405, "PUT /images -> {}", resp.status());
    Ok(())
}

pub fn nats_submit_alone_finishes_a_job(lattice: &Lattice) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        use futures::StreamExt as _;
        let nats = async_nats::connect(format!("127.0.0.1:{}", lattice.nats_port)).await?;
        let mut events = nats.subscribe("pixelbus.events.>").await?;
        nats.flush().await?;
        let reply = tokio::time::timeout(
            Duration::from_secs(30),
            nats.request("pixelbus.jobs.submit", test_jpeg(640, 480).into()),
        )
        .await
        .context("no reply to the submit request")??;
        let accepted: Value = serde_json::from_slice(&reply.payload)?;
        let id = accepted["id"].as_str().with_context(|| format!("submit reply has no id: {accepted}"))?.to_string();
        let event = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(msg) = events.next().await {
                let job: Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
                if job["id"] == id.as_str() {
                    return Some((msg.subject.to_string(), job));
                }
            }
            None
        })
        .await
        .context("no event for the submitted job")?
        .context("event subscription ended")?;
        ensure!(event.0 == "pixelbus.events.done", "event on {}: {}", event.0, event.1);
        ensure!(event.1["variants"].as_array().is_some_and(|v| v.len() == 3), "{}", event.1);
        Ok(())
    })
}

pub fn delete_removes_job_and_blobs(lattice: &Lattice) -> anyhow::Result<()> {
    let base = lattice.base_url();
    let (status, accepted) = post(&format!("{base}/images"), "image/jpeg", &test_jpeg(200, 100))?;
    ensure!(status == 202, "upload -> {status}");
    let id = accepted["id"].as_str().context("no id")?.to_string();
    ensure!(wait_done(lattice, &id)?["status"] == "done");
    let blobs = lattice.state_dir.join("blobs");
    let on_disk = || -> usize {
        ["pixelbus-originals", "pixelbus-variants"]
            .iter()
            .filter_map(|c| std::fs::read_dir(blobs.join(c)).ok())
            .flat_map(|d| d.filter_map(Result::ok))
            .filter(|e| e.file_name().to_string_lossy().starts_with(&id))
            .count()
    };
    ensure!(on_disk() > 0, "no blobs for {id} under {}", blobs.display());
    let (status, body) = delete(&format!("{base}/images/{id}"))?;
    ensure!(status == 200, "DELETE -> {status}: {body}");
    for path in [format!("/images/{id}"), format!("/images/{id}/original"), format!("/images/{id}/thumb")] {
        let (status, _, _) = get(&format!("{base}{path}"))?;
        ensure!(status == 404, "{path} after delete -> {status}");
    }
    let variant_dir = blobs.join("pixelbus-variants").join(&id);
    let left: Vec<_> = std::fs::read_dir(&variant_dir).map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect()).unwrap_or_default();
    ensure!(left.is_empty(), "variant blobs left: {left:?}");
    ensure!(!blobs.join("pixelbus-originals").join(&id).exists(), "original blob left");
    Ok(())
}

pub fn listing_is_newest_first(lattice: &Lattice) -> anyhow::Result<()> {
    let base = lattice.base_url();
    let (_, a) = post(&format!("{base}/images"), "image/jpeg", &test_jpeg(64, 64))?;
    let (_, b) = post(&format!("{base}/images"), "image/jpeg", &test_jpeg(64, 64))?;
    let (status, _, body) = get(&format!("{base}/images?limit=2"))?;
    ensure!(status == 200, "GET /images -> {status}");
    let list: Value = serde_json::from_slice(&body)?;
    let ids: Vec<&str> = list["jobs"].as_array().context("no jobs")?.iter().filter_map(|j| j["id"].as_str()).collect();
    ensure!(
        ids == vec![b["id"].as_str().unwrap_or(""), a["id"].as_str().unwrap_or("")],
        "order {ids:?}, uploaded first {} then {}",
        a["id"],
        b["id"]
    );
    ensure!(list["next"].is_string(), "no next page link: {list}");
    Ok(())
}

/// `scripts/up` gave the lattice a token of its own (kept in its state dir, readable by its
/// owner only); uploads and deletes without it are refused with 401 JSON and change nothing;
/// reads stay public (the default `read_access`).
pub fn changes_need_the_api_token(lattice: &Lattice) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let token_file = lattice.state_dir.join("api-token");
    let mode = std::fs::metadata(&token_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "{} has mode {mode:o}, not 600", token_file.display());
    let token = api_token().context("no API token")?;
    ensure!(token.len() >= 16, "a {}-character token", token.len());

    let images = format!("{}/images", lattice.base_url());
    let image = test_jpeg(320, 240);
    for (authorization, why) in [(None, "no token"), (Some("Bearer not-the-token-0123456789".to_string()), "a wrong token"), (Some(token.clone()), "no scheme")] {
        let (status, body) = post_as(&images, "image/jpeg", &image, authorization.as_deref())?;
        ensure!(status == 401 && body["error"]["code"] == "unauthorized", "upload with {why} -> {status}: {body}");
    }
    let (status, accepted) = post_as(&images, "image/jpeg", &image, Some(&format!("Bearer {token}")))?;
    ensure!(status == 202, "upload with the token -> {status}: {accepted}");
    let id = accepted["id"].as_str().context("no id")?;
    let job = wait_done(lattice, id)?;
    ensure!(job["status"] == "done", "{job}");

    let (status, body) = delete_as(&format!("{images}/{id}"), None)?;
    ensure!(status == 401 && body["error"]["code"] == "unauthorized", "delete without a token -> {status}: {body}");
    let (status, _, _) = get(&format!("{images}/{id}/thumb"))?;
    ensure!(status == 200, "the refused delete removed the thumbnail ({status}); reads must stay public");
    let (status, body) = delete_as(&format!("{images}/{id}"), Some(&format!("Bearer {token}")))?;
    ensure!(status == 200, "delete with the token -> {status}: {body}");
    Ok(())
}
