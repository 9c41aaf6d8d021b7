//! `pixelbus.jobs.submit`: a job from NATS alone, accepted exactly as an HTTP upload is.

use pixelbus_guest::Settings;
use pixelbus_jobs::pipeline::{accept, accepted_body, AcceptError, Original};
use pixelbus_jobs::{parse_submit, LogLevel, Platform, SubmitSource};
use serde_json::json;

/// Handles one submit message. Returns the reply body (sent when the message has a reply
/// subject) and the handler's result: `Err` only for failures worth redelivering (a backend
/// was down), never for a bad message, which no retry can fix.
pub fn handle(platform: &impl Platform, settings: &Settings, body: &[u8]) -> (serde_json::Value, Result<(), String>) {
    let refuse = |code: &str, message: String| {
        platform.log(LogLevel::Warn, &format!("submit refused: {message}"));
        (json!({ "error": { "code": code, "message": message } }), Ok(()))
    };
    let request = match parse_submit(body) {
        Ok(r) => r,
        Err(e) => return refuse("bad_request", e.to_string()),
    };
    let variants = request.variants.unwrap_or_else(|| settings.variants.clone());
    let stored;
    let original = match &request.source {
        SubmitSource::Inline(bytes) => Original::Upload(bytes),
        SubmitSource::Stored { container, object } => match platform.read_object(container, object) {
            Ok(Some(data)) => {
                stored = data;
                Original::Stored { container, object, data: &stored }
            }
            Ok(None) => return refuse("not_found", format!("no object {container}/{object}")),
            Err(e) => return (json!({ "error": { "code": "unavailable", "message": e } }), Err(e)),
        },
    };
    match accept(platform, original, variants, &settings.limits) {
        Ok(job) => (accepted_body(&job), Ok(())),
        Err(AcceptError::Unavailable(e)) => (json!({ "error": { "code": "unavailable", "message": e } }), Err(e)),
        Err(e @ AcceptError::Rejected(_)) => refuse(e.code(), e.message()),
    }
}
