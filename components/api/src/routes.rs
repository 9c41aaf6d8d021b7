//! The HTTP API: from a plain request to a reply, written against [`Platform`] so it tests
//! natively. The wasi:http glue lives in `http.rs`.

use pixelbus_guest::Settings;
use pixelbus_jobs::pipeline::{accept, accepted_body, delete, requeue_if_stale, DeleteError, Original};
use pixelbus_jobs::LogLevel;
use pixelbus_jobs::{Job, JobId, Platform, Status, CONTAINER_VARIANTS};
use serde_json::json;

use crate::gallery;
use crate::local;
use crate::upload::image_bytes;

/// A request as the router sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Path with query, as sent.
    pub path: String,
    pub content_type: String,
    pub if_none_match: Option<String>,
    pub body: Vec<u8>,
}

/// A reply ready to be written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Reply { status, content_type: "application/json", headers: Vec::new(), body: value.to_string().into_bytes() }
    }

    /// The error shape every non-2xx JSON reply uses: `{"error": {"code", "message"}}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(status, &json!({ "error": { "code": code, "message": message.into() } }))
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn method_not_allowed(method: &str, path: &str, allow: &str) -> Self {
        Reply::error(405, "method_not_allowed", format!("{method} is not allowed on {path}; allowed: {allow}"))
            .with_header("allow", allow)
    }
}

/// Largest multipart overhead accepted on top of the image size limit.
pub const MULTIPART_SLACK: u64 = 64 * 1024;

/// Largest request body read for an upload.
pub fn max_body_bytes(settings: &Settings) -> u64 {
    settings.limits.max_bytes + MULTIPART_SLACK
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

pub fn route(platform: &impl Platform, settings: &Settings, req: &Request) -> Reply {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let method = req.method.as_str();
    match (segments.as_slice(), method) {
        ([] | [""], "GET") => gallery::page(),
        ([] | [""], _) => Reply::method_not_allowed(method, path, "GET"),
        (["local", rest @ ..], "GET") => local::asset(&rest.join("/")),
        (["local", ..], _) => Reply::method_not_allowed(method, path, "GET"),
        (["healthz"], "GET") => Reply::json(200, &json!({ "status": "ok" })),
        (["healthz"], _) => Reply::method_not_allowed(method, path, "GET"),
        (["images"], "POST") => upload(platform, settings, req),
        (["images"], "GET") => list(platform, settings, query),
        (["images"], _) => Reply::method_not_allowed(method, path, "GET, POST"),
        (["images", id], "GET") => with_job(platform, id, |mut job| {
            requeue_stale(platform, settings, &mut job);
            Reply::json(200, &job_body(&job))
        }),
        (["images", id], "DELETE") => with_job(platform, id, |job| match delete(platform, &job) {
            Ok(()) => Reply::json(200, &json!({ "deleted": job.id })),
            Err(DeleteError::Unfinished(status)) => Reply::error(
                409,
                "conflict",
                format!("job {} is {}; it can be deleted once it is done or failed", job.id, status_name(status)),
            ),
            Err(DeleteError::Unavailable(e)) => Reply::error(503, "unavailable", e),
        }),
        (["images", _], _) => Reply::method_not_allowed(method, path, "GET, DELETE"),
        (["images", id, "original"], "GET") => with_job(platform, id, |job| {
            let mime = static_mime(&job.content_type);
            blob(platform, req, &job.original.container, &job.original.object, mime, &format!("{}-original", job.id))
        }),
        (["images", id, variant], "GET") => with_job(platform, id, |job| {
            let Some(v) = job.variants.iter().find(|v| v.name == *variant) else {
                return if job.status == Status::Done || !job.requested.iter().any(|r| r.name == *variant) {
                    Reply::error(404, "not_found", format!("job {} has no variant {variant:?}", job.id))
                } else {
                    Reply::error(404, "not_ready", format!("variant {variant:?} of job {} is not rendered yet (status {:?})", job.id, job.status))
                };
            };
            let mime = static_mime(&format!("image/{}", v.format));
            blob(platform, req, CONTAINER_VARIANTS, &pixelbus_jobs::variant_object(&job.id, &v.name), mime, &format!("{}-{}", job.id, v.name))
        }),
        (["images", _, _], _) => Reply::method_not_allowed(method, path, "GET"),
        _ => Reply::error(404, "not_found", format!("no route for {method} {path}")),
    }
}

/// The MIME types pixelbus stores, as static strings.
fn static_mime(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Queued => "queued",
        Status::Processing => "processing",
        Status::Done => "done",
        Status::Failed => "failed",
    }
}

/// Read repair: a job read while stale (see `requeue_if_stale`) is queued again. The read is
/// answered either way; a failure to requeue is logged and tried again on the next read.
fn requeue_stale(platform: &impl Platform, settings: &Settings, job: &mut Job) {
    if let Err(e) = requeue_if_stale(platform, job, settings.requeue_after_ms) {
        platform.log(LogLevel::Warn, &format!("job {} is stale but could not be queued again: {e}", job.id));
    }
}

fn with_job(platform: &impl Platform, id: &str, then: impl FnOnce(Job) -> Reply) -> Reply {
    let Ok(id) = id.parse::<JobId>() else {
        return Reply::error(404, "not_found", format!("{id:?} is not a job id"));
    };
    match platform.get_job(&id) {
        Ok(Some(job)) => then(job),
        Ok(None) => Reply::error(404, "not_found", format!("no job {id}")),
        Err(e) => Reply::error(503, "unavailable", e),
    }
}

/// Job JSON as served: the record plus links.
pub fn job_body(job: &Job) -> serde_json::Value {
    let mut body = serde_json::to_value(job).unwrap_or_default();
    body["links"] = accepted_body(job)["links"].clone();
    body
}

fn upload(platform: &impl Platform, settings: &Settings, req: &Request) -> Reply {
    let bytes = match image_bytes(&req.content_type, &req.body) {
        Ok(b) => b,
        Err(e) => return Reply::error(400, "bad_request", e.message()),
    };
    match accept(platform, Original::Upload(bytes), settings.variants.clone(), &settings.limits) {
        Ok(job) => Reply::json(202, &accepted_body(&job)).with_header("location", format!("/images/{}", job.id)),
        Err(e) => Reply::error(e.http_status(), e.code(), e.message()),
    }
}

/// `GET /images?limit=N&before=<id>`: newest first (ids sort by time).
fn list(platform: &impl Platform, settings: &Settings, query: &str) -> Reply {
    let limit = match query_param(query, "limit").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Reply::error(400, "bad_request", "limit must be 1..=100"),
    };
    let before = query_param(query, "before").filter(|s| !s.is_empty());
    let mut ids: Vec<JobId> = match platform.list_job_ids() {
        Ok(ids) => ids.iter().filter_map(|s| s.parse().ok()).collect(),
        Err(e) => return Reply::error(503, "unavailable", e),
    };
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let page: Vec<&JobId> = ids.iter().filter(|id| before.is_none_or(|b| id.as_str() < b)).take(limit).collect();
    let mut jobs = Vec::with_capacity(page.len());
    for id in &page {
        match platform.get_job(id) {
            Ok(Some(mut job)) => {
                requeue_stale(platform, settings, &mut job);
                jobs.push(job_body(&job));
            }
            Ok(None) => {} // deleted meanwhile
            Err(e) => return Reply::error(503, "unavailable", e),
        }
    }
    let next = (page.len() == limit)
        .then(|| page.last().map(|id| format!("/images?limit={limit}&before={id}")))
        .flatten();
    Reply::json(200, &json!({ "jobs": jobs, "next": next }))
}

/// Stored bytes with caching headers. Objects never change once written (new uploads get new
/// ids), so the ETag is the object's identity and clients may cache for good.
fn blob(platform: &impl Platform, req: &Request, container: &str, object: &str, mime: &'static str, tag: &str) -> Reply {
    let etag = format!("\"{tag}\"");
    if req.if_none_match.as_deref().is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Reply { status: 304, content_type: mime, headers: vec![("etag".into(), etag)], body: Vec::new() };
    }
    match platform.read_object(container, object) {
        Ok(Some(body)) => Reply { status: 200, content_type: mime, headers: Vec::new(), body }
            .with_header("etag", etag)
            .with_header("cache-control", "public, max-age=31536000, immutable"),
        Ok(None) => Reply::error(404, "not_found", format!("{container}/{object} is missing")),
        Err(e) => Reply::error(503, "unavailable", e),
    }
}
