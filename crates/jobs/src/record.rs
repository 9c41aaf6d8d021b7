//! The job record (kept in keyvalue, served as JSON, published in events) and its transitions.

use pixelbus_imaging::{Rendered, SourceInfo, VariantSpec};
use serde::{Deserialize, Serialize};

use crate::{rfc3339_millis, JobId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Processing,
    Done,
    Failed,
}

impl Status {
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

impl From<&SourceInfo> for SourceSummary {
    fn from(info: &SourceInfo) -> Self {
        SourceSummary {
            format: info.format.as_str().to_string(),
            width: info.width,
            height: info.height,
            bytes: info.bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantResult {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub format: String,
    pub bytes: u64,
    pub url: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// From upload to the start of the last processing attempt.
    pub queued_ms: Option<u64>,
    /// From the start of the last attempt to its end.
    pub processing_ms: Option<u64>,
    /// The part of the last attempt spent in the imaging library (decode, resize, encode: what
    /// a browser running the same library does), without storage and queue round trips.
    pub render_ms: Option<u64>,
}

/// Where a job's original lives in the blobstore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub container: String,
    pub object: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub status: Status,
    pub source: SourceSummary,
    /// MIME type of the original, from its sniffed format.
    pub content_type: String,
    pub original: ObjectRef,
    /// The variants asked for.
    pub requested: Vec<VariantSpec>,
    /// The variants produced (empty until done).
    pub variants: Vec<VariantResult>,
    pub error: Option<String>,
    /// Processing attempts started so far.
    pub attempts: u32,
    pub created_at: String,
    pub updated_at: String,
    pub timings: Timings,
    created_ms: u64,
    started_ms: Option<u64>,
    /// When the record last changed (records written before this field read as 0: then
    /// `created_ms` stands in).
    #[serde(default)]
    updated_ms: u64,
}

impl Job {
    pub fn queued(
        id: JobId,
        source: &SourceInfo,
        original: ObjectRef,
        requested: Vec<VariantSpec>,
        now_ms: u64,
    ) -> Job {
        Job {
            id,
            status: Status::Queued,
            source: source.into(),
            content_type: source.format.mime().to_string(),
            original,
            requested,
            variants: Vec::new(),
            error: None,
            attempts: 0,
            created_at: rfc3339_millis(now_ms),
            updated_at: rfc3339_millis(now_ms),
            timings: Timings::default(),
            created_ms: now_ms,
            started_ms: None,
            updated_ms: now_ms,
        }
    }

    /// Records a change at `now_ms` (`updated_at`).
    pub fn touch(&mut self, now_ms: u64) {
        self.updated_at = rfc3339_millis(now_ms);
        self.updated_ms = now_ms;
    }

    /// Unfinished, and unchanged for at least `after_ms`: nothing is working on it any more, or
    /// its work message is gone.
    pub fn is_stale(&self, now_ms: u64, after_ms: u64) -> bool {
        !self.status.is_final() && now_ms.saturating_sub(self.updated_ms.max(self.created_ms)) >= after_ms
    }

    /// Marks an attempt as started. Returns false (and changes nothing) when the job is already
    /// finished: a redelivered work message must not redo or undo a finished job.
    pub fn start(&mut self, now_ms: u64) -> bool {
        if self.status.is_final() {
            return false;
        }
        self.status = Status::Processing;
        self.attempts += 1;
        self.started_ms = Some(now_ms);
        self.timings.queued_ms = Some(now_ms.saturating_sub(self.created_ms));
        self.touch(now_ms);
        true
    }

    pub fn finish(&mut self, rendered: &[Rendered], now_ms: u64) {
        self.status = Status::Done;
        self.error = None;
        self.variants = rendered
            .iter()
            .map(|r| VariantResult {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                format: r.format.as_str().to_string(),
                bytes: r.data.len() as u64,
                url: format!("/images/{}/{}", self.id, r.name),
            })
            .collect();
        self.timings.processing_ms = self.started_ms.map(|s| now_ms.saturating_sub(s));
        self.touch(now_ms);
    }

    pub fn fail(&mut self, error: impl Into<String>, now_ms: u64) {
        self.status = Status::Failed;
        self.error = Some(error.into());
        self.timings.processing_ms = self.started_ms.map(|s| now_ms.saturating_sub(s));
        self.touch(now_ms);
    }

    pub fn original_url(&self) -> String {
        format!("/images/{}/original", self.id)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A Job holds only strings, numbers and plain enums: serialising it cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Job, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The work-queue message: the job id, and a copy of the record as it was queued, from which a
/// record the keyvalue store lost is restored (nats-server 2.15.1 acknowledges writes during its
/// shutdown that it does not keep). Messages without the copy (queued by pixelbus before it
/// existed) still work; their lost records cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkMessage {
    pub id: JobId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
}

impl WorkMessage {
    pub fn for_job(job: &Job) -> WorkMessage {
        WorkMessage { id: job.id.clone(), job: Some(job.clone()) }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Ids and records serialise without fail (see `Job::to_json`).
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The copy of the record, when the message carries one for its own job.
    pub fn queued_copy(&self) -> Option<&Job> {
        self.job.as_ref().filter(|job| job.id == self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelbus_imaging::{default_variants, OutputFormat, SourceFormat};

    fn job() -> Job {
        let info = SourceInfo { format: SourceFormat::Png, width: 640, height: 480, bytes: 1234 };
        let id = JobId::new(1_000, 42);
        let original = ObjectRef { container: "c".into(), object: id.to_string() };
        Job::queued(id, &info, original, default_variants(), 1_000)
    }

    #[test]
    fn new_job_is_queued_with_the_documented_json_shape() {
        let j = job();
        let v: serde_json::Value = serde_json::from_slice(&j.to_json()).expect("json");
        assert_eq!(v["status"], "queued");
        assert_eq!(v["source"]["format"], "png");
        assert_eq!(v["source"]["width"], 640);
        assert_eq!(v["content_type"], "image/png");
        assert_eq!(v["created_at"], "1970-01-01T00:00:01.000Z");
        assert!(v["variants"].as_array().is_some_and(Vec::is_empty));
        assert!(v["error"].is_null());
        assert_eq!(Job::from_json(&j.to_json()).expect("round trip"), j);
    }

    #[test]
    fn lifecycle_records_timings() {
        let mut j = job();
        assert!(j.start(1_500));
        assert_eq!((j.status, j.attempts, j.timings.queued_ms), (Status::Processing, 1, Some(500)));
        let r = Rendered { name: "thumb".into(), width: 128, height: 96, format: OutputFormat::Jpeg, data: vec![0; 10] };
        j.finish(&[r], 1_800);
        assert_eq!(j.status, Status::Done);
        assert_eq!(j.timings.processing_ms, Some(300));
        assert_eq!(j.variants[0].url, format!("/images/{}/thumb", j.id));
        assert_eq!(j.variants[0].bytes, 10);
    }

    #[test]
    fn finished_jobs_are_not_restarted() {
        let mut j = job();
        j.start(1);
        j.finish(&[], 2);
        let before = j.clone();
        assert!(!j.start(3), "a redelivery restarted a done job");
        assert_eq!(j, before);
        let mut f = job();
        f.fail("broken", 5);
        assert!(!f.start(6));
        assert_eq!(f.error.as_deref(), Some("broken"));
    }

    #[test]
    fn a_job_is_stale_once_unfinished_and_untouched_for_long_enough() {
        let mut j = job();
        assert!(!j.is_stale(1_000 + 89_999, 90_000));
        assert!(j.is_stale(1_000 + 90_000, 90_000));
        j.start(50_000);
        assert!(!j.is_stale(100_000, 90_000), "starting an attempt is a change");
        assert!(j.is_stale(140_000, 90_000));
        j.finish(&[], 140_000);
        assert!(!j.is_stale(1_000_000, 90_000), "a finished job is never stale");
    }

    #[test]
    fn records_written_before_updated_ms_existed_count_from_their_creation() {
        let mut v: serde_json::Value = serde_json::from_slice(&job().to_json()).expect("json");
        v.as_object_mut().expect("object").remove("updated_ms");
        let old = Job::from_json(v.to_string().as_bytes()).expect("old records still parse");
        assert!(!old.is_stale(1_000 + 89_999, 90_000));
        assert!(old.is_stale(1_000 + 90_000, 90_000));
    }

    #[test]
    fn work_messages_carry_their_record_and_old_ones_still_parse() {
        let j = job();
        let m: WorkMessage = serde_json::from_slice(&WorkMessage::for_job(&j).to_json()).expect("parses");
        assert_eq!(m.queued_copy(), Some(&j));
        let old: WorkMessage = serde_json::from_slice(format!(r#"{{"id":"{}"}}"#, j.id).as_bytes()).expect("old shape");
        assert_eq!(old.queued_copy(), None);
        let mut foreign = WorkMessage::for_job(&j);
        foreign.id = JobId::new(9_999, 7);
        assert_eq!(foreign.queued_copy(), None, "a copy of another job is not restored");
    }

    #[test]
    fn records_with_foreign_ids_do_not_parse() {
        let mut v: serde_json::Value = serde_json::from_slice(&job().to_json()).expect("json");
        v["id"] = "../../etc".into();
        assert!(Job::from_json(v.to_string().as_bytes()).is_err());
    }
}
