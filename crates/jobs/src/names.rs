//! Names users and operators see: subjects, buckets, keys. Keep stable (docs and tests use them).

use crate::JobId;

/// Start a job from NATS alone.
pub const SUBJECT_SUBMIT: &str = "pixelbus.jobs.submit";
/// Internal work queue: one message per job to render.
pub const SUBJECT_WORK: &str = "pixelbus.jobs.work";
/// A job finished; the body is the job JSON.
pub const SUBJECT_DONE: &str = "pixelbus.events.done";
/// A job failed for good; the body is the job JSON.
pub const SUBJECT_FAILED: &str = "pixelbus.events.failed";
/// Work messages that failed every delivery.
pub const SUBJECT_DEAD: &str = "pixelbus.jobs.dead";

/// Blobstore container of uploaded originals, object name = job id.
pub const CONTAINER_ORIGINALS: &str = "pixelbus-originals";
/// Blobstore container of rendered variants, object name = `{job id}/{variant}`.
pub const CONTAINER_VARIANTS: &str = "pixelbus-variants";
/// Keyvalue bucket of job records, key = job id.
pub const BUCKET_JOBS: &str = "pixelbus-jobs";

pub fn original_object(id: &JobId) -> String {
    id.to_string()
}

/// Variant names are validated (`a-z 0-9 - _`) before they reach here, so the key cannot escape
/// the job's own prefix.
pub fn variant_object(id: &JobId, variant: &str) -> String {
    format!("{id}/{variant}")
}

pub fn job_key(id: &JobId) -> String {
    id.to_string()
}
