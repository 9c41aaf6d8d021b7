//! The pipeline's two halves: accepting an image as a job (api, from HTTP or NATS) and turning
//! a job into variants (thumbnailer). Both are written against [`Platform`].

use pixelbus_imaging::{probe, render, ImagingError, Limits, VariantSpec};
use serde_json::json;

use crate::platform::{LogLevel, Platform};
use crate::record::ObjectRef;
use crate::{
    original_object, variant_object, Job, JobId, Status, WorkMessage, CONTAINER_ORIGINALS,
    CONTAINER_VARIANTS, SUBJECT_DEAD, SUBJECT_DONE, SUBJECT_FAILED,
};

/// How long a write may take to show its full size in the store, and how often to look.
const STORED_WAIT_MS: u64 = 5_000;
const STORED_POLL_MS: u64 = 20;

/// Returns once `container/object` holds `len` bytes: no job is marked done over a variant cut
/// short. A write can be reported complete while the object is short: a crash mid-write, or (seen
/// here, with blobstore-fs, until patches/wrpc-transport-nats-demux-commands-first.patch) wRPC
/// messages carrying its data dropped on the way while the end of the stream arrived. (An
/// original cut short is caught by the thumbnailer's length check and retried, then
/// dead-lettered.)
fn wait_fully_stored(platform: &impl Platform, container: &str, object: &str, len: usize) -> Result<(), String> {
    let expected = len as u64;
    let started = platform.now_ms();
    loop {
        let size = platform.object_size(container, object)?;
        if size == Some(expected) {
            return Ok(());
        }
        let waited = platform.now_ms().saturating_sub(started);
        if waited >= STORED_WAIT_MS {
            let held = size.map_or_else(|| "nothing".to_string(), |s| format!("{s} bytes"));
            return Err(format!("{container}/{object} holds {held} {waited} ms after {expected} bytes were written: not fully stored"));
        }
        platform.pause_ms(STORED_POLL_MS);
    }
}

/// Why an image was not accepted as a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptError {
    /// The client's fault: the image (or a variant) is refused.
    Rejected(ImagingError),
    /// A backend failed; the client may retry.
    Unavailable(String),
}

impl AcceptError {
    pub fn http_status(&self) -> u16 {
        match self {
            AcceptError::Rejected(e) => e.http_status(),
            AcceptError::Unavailable(_) => 503,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            AcceptError::Rejected(e) => e.code(),
            AcceptError::Unavailable(_) => "unavailable",
        }
    }
    pub fn message(&self) -> String {
        match self {
            AcceptError::Rejected(e) => e.to_string(),
            AcceptError::Unavailable(e) => format!("storage or queue unavailable: {e}"),
        }
    }
}

/// Where the image to accept comes from.
pub enum Original<'a> {
    /// Bytes to store in `pixelbus-originals/<id>`.
    Upload(&'a [u8]),
    /// Bytes already stored at `container/object` (read for probing, not copied).
    Stored { container: &'a str, object: &'a str, data: &'a [u8] },
}

/// Checks the image, stores it, records the job and queues it. Nothing is written before the
/// image passes its checks, and a failure to queue marks the job failed rather than leaving it
/// queued forever.
pub fn accept(
    platform: &impl Platform,
    original: Original<'_>,
    variants: Vec<VariantSpec>,
    limits: &Limits,
) -> Result<Job, AcceptError> {
    for v in &variants {
        v.validate().map_err(AcceptError::Rejected)?;
    }
    if variants.is_empty() {
        return Err(AcceptError::Rejected(ImagingError::InvalidVariant("no variants".into())));
    }
    let data = match original {
        Original::Upload(d) | Original::Stored { data: d, .. } => d,
    };
    let info = probe(data, limits).map_err(AcceptError::Rejected)?;
    let now = platform.now_ms();
    let id = JobId::new(now, platform.random_u128());
    let location = match original {
        Original::Upload(bytes) => {
            let object = original_object(&id);
            platform
                .write_object(CONTAINER_ORIGINALS, &object, bytes)
                .map_err(AcceptError::Unavailable)?;
            ObjectRef { container: CONTAINER_ORIGINALS.to_string(), object }
        }
        Original::Stored { container, object, .. } => {
            ObjectRef { container: container.to_string(), object: object.to_string() }
        }
    };
    let mut job = Job::queued(id, &info, location, variants, now);
    platform.put_job(&job).map_err(AcceptError::Unavailable)?;
    // Read back before queueing: while nats-server shuts down it acknowledges writes it does not
    // keep, and answers every read "not found". A record that cannot be read back is not promised
    // to the client; one lost later is restored from the work message, and a work message lost
    // later is sent again by `requeue_if_stale`.
    match platform.get_job(&job.id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(AcceptError::Unavailable(format!(
                "job {} was not found right after it was stored (is the keyvalue store restarting?)",
                job.id
            )))
        }
        Err(err) => return Err(AcceptError::Unavailable(err)),
    }
    if let Err(err) = platform.publish(platform.work_subject(), &WorkMessage::for_job(&job).to_json()) {
        job.fail(format!("could not queue the job: {err}"), platform.now_ms());
        let _ = platform.put_job(&job);
        return Err(AcceptError::Unavailable(err));
    }
    platform.log(LogLevel::Info, &format!("job {} queued ({}x{} {})", job.id, info.width, info.height, info.format.as_str()));
    Ok(job)
}

/// What became of one work message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Already finished (a redelivery) or deleted meanwhile: nothing to do.
    Skipped(&'static str),
}

/// Renders a queued job. `Err` means "try again later" (a backend failed); the caller leaves the
/// message unacknowledged. A job whose image cannot be rendered fails for good (`Ok(Failed)`),
/// as does one that has already been attempted `max_attempts` times (an earlier attempt died).
pub fn process(
    platform: &impl Platform,
    message: &[u8],
    limits: &Limits,
    max_attempts: u32,
) -> Result<Outcome, String> {
    let work = parse_work(message, "invalid work message")?;
    let mut restored = false;
    let mut job = match unfinished_job(platform, &work.id)? {
        Ok(job) => job,
        // The api stores the record before it queues the work, and an unfinished job cannot be
        // deleted, so a missing record was lost by the store (nats-server 2.15.1 acknowledges
        // writes during its shutdown that it does not keep), the store answered "not found"
        // without looking (it does so while it shuts down), or the job finished and was deleted
        // before this redelivery. The message's copy restores the record once the original is
        // found (a deleted job's is gone); rewriting a record that was there after all redoes the
        // job at worst.
        Err(Outcome::Skipped(MISSING)) => match work.queued_copy() {
            Some(copy) => {
                restored = true;
                copy.clone()
            }
            // A message without a copy: retrying costs a deleted job only its remaining
            // deliveries, after which the dead-letter path (`give_up`) drops it.
            None => return Err(format!("{MISSING}: deleted, or the keyvalue store did not find it; trying again later")),
        },
        Err(nothing_to_do) => return Ok(nothing_to_do),
    };
    if job.attempts >= max_attempts {
        let why = format!("gave up after {} attempts that did not finish", job.attempts);
        finish_failed(platform, &mut job, &why)?;
        return Ok(Outcome::Failed(why));
    }
    // The original is read before the attempt is counted: a backend that is not there yet (a
    // provider still starting on a replacement host) fails the call before the job is touched,
    // so waiting for it uses up deliveries, not the job's attempts.
    let source = platform
        .read_object(&job.original.container, &job.original.object)?;
    let Some(source) = source else {
        if restored {
            // Nothing written: a deleted job stays deleted once the queue gives up on it.
            return Err(format!(
                "{MISSING} and its original {}/{} not found: deleted, or the stores did not find them; trying again later",
                job.original.container, job.original.object
            ));
        }
        let why = format!("original {}/{} not found", job.original.container, job.original.object);
        finish_failed(platform, &mut job, &why)?;
        return Ok(Outcome::Failed(why));
    };
    // The record says how many bytes were accepted. Fewer means the original is still being
    // stored (blobstore-fs returns from a write before its file is complete) or was cut short on
    // the way: try again later rather than fail a good image for good.
    if source.len() as u64 != job.source.bytes {
        return Err(format!(
            "original {}/{} has {} bytes, the job accepted {}: not fully stored yet",
            job.original.container,
            job.original.object,
            source.len(),
            job.source.bytes
        ));
    }
    job.start(platform.now_ms());
    platform.put_job(&job)?;
    if restored {
        platform.log(LogLevel::Warn, &format!("job {}: record not found; restored from its work message", job.id));
    }
    let render_started = platform.now_ms();
    let rendered = render(&source, &job.requested, limits);
    job.timings.render_ms = Some(platform.now_ms().saturating_sub(render_started));
    let rendered = match rendered {
        Ok((_, rendered)) => rendered,
        Err(err) => {
            let why = format!("{}: {err}", err.code());
            finish_failed(platform, &mut job, &why)?;
            return Ok(Outcome::Failed(why));
        }
    };
    // Same key per job and variant: a retried job overwrites, never duplicates.
    for variant in &rendered {
        platform.write_object(CONTAINER_VARIANTS, &variant_object(&job.id, &variant.name), &variant.data)?;
    }
    // Done only over complete variants; otherwise `Err`: the retry writes them again.
    for variant in &rendered {
        wait_fully_stored(platform, CONTAINER_VARIANTS, &variant_object(&job.id, &variant.name), variant.data.len())?;
    }
    job.finish(&rendered, platform.now_ms());
    platform.put_job(&job)?;
    publish_event(platform, SUBJECT_DONE, &job);
    Ok(Outcome::Done)
}

/// A work message the queue gave up on (it reached the dead-letter subject after its last
/// delivery failed or timed out): its job ends `failed`, so no record stays `processing` forever.
/// A job that finished meanwhile, or was deleted, is left alone.
pub fn give_up(platform: &impl Platform, dead_letter: &[u8]) -> Result<Outcome, String> {
    let work = parse_work(dead_letter, "invalid dead letter (not a work message)")?;
    let mut job = match unfinished_job(platform, &work.id)? {
        Ok(job) => job,
        Err(nothing_to_do) => return Ok(nothing_to_do),
    };
    let why = format!("its work message was moved to {SUBJECT_DEAD}: every delivery failed or timed out");
    finish_failed(platform, &mut job, &why)?;
    platform.log(LogLevel::Warn, &format!("job {} failed: {why}", job.id));
    Ok(Outcome::Failed(why))
}

/// A finished job another zone announced (its done or failed event, copied here by a JetStream
/// stream sourcing that zone's events): its record is stored in this zone's keyvalue, so this
/// zone lists it too. The images stay in the zone that rendered them. A record already stored
/// that is as new or newer is kept. Returns whether the record was stored.
///
/// An event that is not a finished job is logged and dropped (`Ok(false)`): no redelivery can fix
/// it. A store that fails is an `Err`, to be redelivered.
pub fn record_from_zone(platform: &impl Platform, event: &[u8]) -> Result<bool, String> {
    let job = match Job::from_json(event) {
        Ok(job) if job.status.is_final() => job,
        Ok(job) => {
            platform.log(LogLevel::Warn, &format!("event for job {} ignored: it is {:?}, not finished", job.id, job.status));
            return Ok(false);
        }
        Err(e) => {
            platform.log(LogLevel::Warn, &format!("event ignored: not a job record ({e})"));
            return Ok(false);
        }
    };
    if let Some(stored) = platform.get_job(&job.id)? {
        // rfc3339_millis timestamps: the same width, so text order is time order.
        if stored.updated_at >= job.updated_at {
            return Ok(false);
        }
    }
    platform.put_job(&job)?;
    platform.log(LogLevel::Info, &format!("job {} recorded from another zone ({:?})", job.id, job.status));
    Ok(true)
}

/// Queues an unfinished job again when its record has not changed for `after_ms`: its work
/// message was lost (nats-server 2.15.1 can acknowledge a publish during its shutdown and not
/// keep it) or every delivery so far failed before it started. Called when the job is read, so a
/// job someone waits for cannot stay queued for good. Returns whether it queued the job.
///
/// `after_ms` must exceed the time the queue keeps redelivering a message (all its deliveries
/// and backoffs): a job requeued while its first message is still in the queue can be rendered
/// twice (the same bytes to the same keys, and a second done event when the two overlap).
pub fn requeue_if_stale(platform: &impl Platform, job: &mut Job, after_ms: u64) -> Result<bool, String> {
    let now = platform.now_ms();
    if !job.is_stale(now, after_ms) {
        return Ok(false);
    }
    let idle = format!("{:?} and unchanged since {}", job.status, job.updated_at);
    job.touch(now);
    platform.put_job(job)?;
    platform.publish(platform.work_subject(), &WorkMessage::for_job(job).to_json())?;
    platform.log(LogLevel::Warn, &format!("job {} was {idle}: queued again", job.id));
    Ok(true)
}

const MISSING: &str = "job no longer exists";

fn parse_work(message: &[u8], invalid: &str) -> Result<WorkMessage, String> {
    serde_json::from_slice(message).map_err(|e| format!("{invalid}: {e}"))
}

/// The job, unless it is gone or already finished (then the outcome that says so: a
/// redelivery or a deleted job leaves nothing to do).
fn unfinished_job(platform: &impl Platform, id: &JobId) -> Result<Result<Job, Outcome>, String> {
    let Some(job) = platform.get_job(id)? else {
        return Ok(Err(Outcome::Skipped(MISSING)));
    };
    if job.status.is_final() {
        return Ok(Err(Outcome::Skipped("job already finished")));
    }
    Ok(Ok(job))
}

fn finish_failed(platform: &impl Platform, job: &mut Job, why: &str) -> Result<(), String> {
    job.fail(why, platform.now_ms());
    platform.put_job(job)?;
    publish_event(platform, SUBJECT_FAILED, job);
    Ok(())
}

/// Events are notifications: the record in keyvalue is the truth, so a failed publish is logged,
/// not retried.
fn publish_event(platform: &impl Platform, subject: &str, job: &Job) {
    if let Err(err) = platform.publish(subject, &job.to_json()) {
        platform.log(LogLevel::Warn, &format!("could not publish {subject} for {}: {err}", job.id));
    }
}

/// Why a job was not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteError {
    /// Queued or processing: its work message would restore the record (see `process`), so it
    /// is deleted once it is done or failed.
    Unfinished(Status),
    /// A backend failed; the client may retry.
    Unavailable(String),
}

/// Removes a finished job: its variants, its original when we stored it, then its record.
pub fn delete(platform: &impl Platform, job: &Job) -> Result<(), DeleteError> {
    if !job.status.is_final() {
        return Err(DeleteError::Unfinished(job.status));
    }
    remove_job(platform, job).map_err(DeleteError::Unavailable)
}

fn remove_job(platform: &impl Platform, job: &Job) -> Result<(), String> {
    // Every produced variant was requested, so the requested names cover them all (and the
    // ones a failed or unfinished attempt may have written).
    for variant in &job.requested {
        platform.delete_object(CONTAINER_VARIANTS, &variant_object(&job.id, &variant.name))?;
    }
    if job.original.container == CONTAINER_ORIGINALS {
        platform.delete_object(CONTAINER_ORIGINALS, &job.original.object)?;
    }
    platform.delete_job(&job.id)
}

/// The body answered for an accepted job (HTTP 202 and NATS replies).
pub fn accepted_body(job: &Job) -> serde_json::Value {
    let variants: serde_json::Map<String, serde_json::Value> = job
        .requested
        .iter()
        .map(|v| (v.name.clone(), json!(format!("/images/{}/{}", job.id, v.name))))
        .collect();
    json!({
        "id": job.id,
        "status": job.status,
        "links": {
            "self": format!("/images/{}", job.id),
            "original": job.original_url(),
            "variants": variants,
        }
    })
}
