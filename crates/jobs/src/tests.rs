//! The pipeline against an in-memory platform.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Cursor;

use pixelbus_imaging::{default_variants, Limits, VariantSpec};

use crate::pipeline::{accept, delete, give_up, process, record_from_zone, requeue_if_stale, AcceptError, DeleteError, Original, Outcome};
use crate::*;

#[derive(Default)]
struct Memory {
    clock: Cell<u64>,
    jobs: RefCell<BTreeMap<String, Vec<u8>>>,
    objects: RefCell<BTreeMap<(String, String), Vec<u8>>>,
    published: RefCell<Vec<(String, Vec<u8>)>>,
    fail_publish: Cell<bool>,
    fail_writes: Cell<bool>,
    fail_reads: Cell<bool>,
    /// Record writes are acknowledged and dropped (nats-server during its shutdown).
    lose_record_writes: Cell<bool>,
    /// Size queries per object that still see half of it (a store finishing writes late).
    stored_late: Cell<u32>,
    /// Every object shows one byte short, for good (a write cut off by a crash).
    cut_short: Cell<bool>,
    size_queries: RefCell<BTreeMap<(String, String), u32>>,
    paused_ms: Cell<u64>,
    /// The deployment's own work subject (`None`: the default one).
    work_subject: Option<&'static str>,
}

impl Platform for Memory {
    fn now_ms(&self) -> u64 {
        self.clock.set(self.clock.get() + 10);
        1_700_000_000_000 + self.clock.get()
    }
    fn random_u128(&self) -> u128 {
        u128::from(self.clock.get()) * 7919
    }
    fn get_job(&self, id: &JobId) -> Result<Option<Job>, String> {
        self.jobs.borrow().get(id.as_str()).map(|b| Job::from_json(b).map_err(|e| e.to_string())).transpose()
    }
    fn put_job(&self, job: &Job) -> Result<(), String> {
        if self.lose_record_writes.get() {
            return Ok(());
        }
        self.jobs.borrow_mut().insert(job.id.to_string(), job.to_json());
        Ok(())
    }
    fn delete_job(&self, id: &JobId) -> Result<(), String> {
        self.jobs.borrow_mut().remove(id.as_str());
        Ok(())
    }
    fn list_job_ids(&self) -> Result<Vec<String>, String> {
        Ok(self.jobs.borrow().keys().cloned().collect())
    }
    fn read_object(&self, c: &str, o: &str) -> Result<Option<Vec<u8>>, String> {
        if self.fail_reads.get() {
            return Err("no blobstore provider yet".into());
        }
        Ok(self.objects.borrow().get(&(c.to_string(), o.to_string())).cloned())
    }
    fn write_object(&self, c: &str, o: &str, data: &[u8]) -> Result<(), String> {
        if self.fail_writes.get() {
            return Err("blobstore down".into());
        }
        self.objects.borrow_mut().insert((c.to_string(), o.to_string()), data.to_vec());
        Ok(())
    }
    fn delete_object(&self, c: &str, o: &str) -> Result<(), String> {
        self.objects.borrow_mut().remove(&(c.to_string(), o.to_string()));
        Ok(())
    }
    fn object_size(&self, c: &str, o: &str) -> Result<Option<u64>, String> {
        let key = (c.to_string(), o.to_string());
        let Some(len) = self.objects.borrow().get(&key).map(|d| d.len() as u64) else {
            return Ok(None);
        };
        let mut queries = self.size_queries.borrow_mut();
        let seen = queries.entry(key).or_default();
        *seen += 1;
        Ok(Some(if self.cut_short.get() {
            len - 1
        } else if *seen <= self.stored_late.get() {
            len / 2
        } else {
            len
        }))
    }
    fn pause_ms(&self, ms: u64) {
        self.paused_ms.set(self.paused_ms.get() + ms);
        self.clock.set(self.clock.get() + ms);
    }
    fn publish(&self, subject: &str, body: &[u8]) -> Result<(), String> {
        if self.fail_publish.get() {
            return Err("nats down".into());
        }
        self.published.borrow_mut().push((subject.to_string(), body.to_vec()));
        Ok(())
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn work_subject(&self) -> &str {
        self.work_subject.unwrap_or(SUBJECT_WORK)
    }
}

impl Memory {
    fn subjects(&self) -> Vec<String> {
        self.published.borrow().iter().map(|(s, _)| s.clone()).collect()
    }
    fn work_message(&self) -> Vec<u8> {
        self.published.borrow().iter().rev().find(|(s, _)| s == SUBJECT_WORK).map(|(_, b)| b.clone()).expect("a work message")
    }
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encodes");
    out.into_inner()
}

#[test]
fn accept_stores_records_and_queues() {
    let m = Memory::default();
    let image = jpeg(640, 480);
    let job = accept(&m, Original::Upload(&image), default_variants(), &Limits::default()).expect("accepted");
    assert_eq!(job.status, Status::Queued);
    assert_eq!(m.read_object(CONTAINER_ORIGINALS, job.id.as_str()).expect("read"), Some(image));
    assert_eq!(m.get_job(&job.id).expect("get"), Some(job.clone()));
    let work: WorkMessage = serde_json::from_slice(&m.work_message()).expect("work message");
    assert_eq!(work.id, job.id);
}

#[test]
fn rejected_images_leave_nothing_behind() {
    let m = Memory::default();
    let err = accept(&m, Original::Upload(b"not an image"), default_variants(), &Limits::default()).expect_err("rejected");
    assert_eq!((err.http_status(), err.code()), (415, "unsupported_media_type"));
    let bad_variant = vec![VariantSpec::new("../x", 10)];
    let err = accept(&m, Original::Upload(&jpeg(8, 8)), bad_variant, &Limits::default()).expect_err("rejected");
    assert_eq!(err.code(), "invalid_variant");
    assert!(m.objects.borrow().is_empty() && m.jobs.borrow().is_empty() && m.published.borrow().is_empty());
}

#[test]
fn unqueueable_job_is_marked_failed_not_left_queued() {
    let m = Memory::default();
    m.fail_publish.set(true);
    let err = accept(&m, Original::Upload(&jpeg(8, 8)), default_variants(), &Limits::default()).expect_err("unavailable");
    assert!(matches!(err, AcceptError::Unavailable(_)));
    assert_eq!(err.http_status(), 503);
    let stored: Vec<Job> = m.jobs.borrow().values().map(|b| Job::from_json(b).expect("job")).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, Status::Failed);
}

#[test]
fn process_renders_every_variant_and_announces_it() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(800, 600)), default_variants(), &Limits::default()).expect("accepted");
    let outcome = process(&m, &m.work_message(), &Limits::default(), 3).expect("processed");
    assert_eq!(outcome, Outcome::Done);
    let done = m.get_job(&job.id).expect("get").expect("exists");
    assert_eq!(done.status, Status::Done);
    assert_eq!(done.attempts, 1);
    let sizes: Vec<_> = done.variants.iter().map(|v| (v.name.as_str(), v.width, v.height)).collect();
    assert_eq!(sizes, vec![("thumb", 128, 96), ("small", 480, 360), ("medium", 800, 600)]);
    // The test clock moves 10 ms per reading: the render is timed by exactly two of them, and
    // lies inside the attempt (which also reads the original and stores the variants).
    assert_eq!(done.timings.render_ms, Some(10));
    assert!(done.timings.processing_ms.is_some_and(|p| p > 10), "{:?}", done.timings);
    for v in &done.variants {
        let data = m.read_object(CONTAINER_VARIANTS, &variant_object(&job.id, &v.name)).expect("read").expect("stored");
        assert_eq!(data.len() as u64, v.bytes);
        let decoded = image::load_from_memory(&data).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (v.width, v.height));
    }
    let (subject, body) = m.published.borrow().last().cloned().expect("event");
    assert_eq!(subject, SUBJECT_DONE);
    assert_eq!(Job::from_json(&body).expect("event is the job json"), done);
}

#[test]
fn redelivered_work_does_not_redo_a_finished_job() {
    let m = Memory::default();
    accept(&m, Original::Upload(&jpeg(64, 64)), default_variants(), &Limits::default()).expect("accepted");
    let msg = m.work_message();
    assert_eq!(process(&m, &msg, &Limits::default(), 3), Ok(Outcome::Done));
    let objects_before = m.objects.borrow().clone();
    let events_before = m.published.borrow().len();
    assert_eq!(process(&m, &msg, &Limits::default(), 3), Ok(Outcome::Skipped("job already finished")));
    assert_eq!(*m.objects.borrow(), objects_before);
    assert_eq!(m.published.borrow().len(), events_before, "a second done event");
}

#[test]
fn backend_failure_asks_for_a_retry_and_the_retry_completes() {
    let m = Memory::default();
    accept(&m, Original::Upload(&jpeg(64, 64)), default_variants(), &Limits::default()).expect("accepted");
    let msg = m.work_message();
    m.fail_writes.set(true);
    assert!(process(&m, &msg, &Limits::default(), 3).is_err(), "a failed write must be retried");
    m.fail_writes.set(false);
    assert_eq!(process(&m, &msg, &Limits::default(), 3), Ok(Outcome::Done));
    let id: WorkMessage = serde_json::from_slice(&msg).expect("msg");
    assert_eq!(m.get_job(&id.id).expect("get").expect("job").attempts, 2);
}

#[test]
fn unrenderable_image_fails_with_its_reason() {
    let m = Memory::default();
    // Probes fine (valid header), but the pixel data is cut off.
    let mut image = jpeg(300, 200);
    image.truncate(image.len() / 3);
    let accepted = accept(&m, Original::Upload(&image), default_variants(), &Limits::default());
    let job = accepted.expect("header is valid, so it is accepted");
    let outcome = process(&m, &m.work_message(), &Limits::default(), 3).expect("processed");
    if let Outcome::Failed(why) = outcome {
        assert!(why.starts_with("invalid_image"), "{why}");
        let failed = m.get_job(&job.id).expect("get").expect("job");
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(m.subjects().last().map(String::as_str), Some(SUBJECT_FAILED));
    } else {
        // Some decoders fill a truncated JPEG with grey; then it must at least be done.
        assert_eq!(outcome, Outcome::Done);
    }
}

#[test]
fn a_job_whose_attempts_keep_dying_ends_failed() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 64)), default_variants(), &Limits::default()).expect("accepted");
    // Three attempts started and never finished (the worker trapped or its host died).
    let mut stuck = m.get_job(&job.id).expect("get").expect("job");
    for t in 0..3 {
        stuck.start(t);
    }
    m.put_job(&stuck).expect("put");
    let outcome = process(&m, &m.work_message(), &Limits::default(), 3).expect("processed");
    assert!(matches!(outcome, Outcome::Failed(ref why) if why.contains("3 attempts")), "{outcome:?}");
    assert_eq!(m.get_job(&job.id).expect("get").expect("job").status, Status::Failed);
}

#[test]
fn stored_sources_are_referenced_not_copied() {
    let m = Memory::default();
    let image = jpeg(32, 32);
    m.write_object("uploads", "a/b.jpg", &image).expect("seed");
    let original = Original::Stored { container: "uploads", object: "a/b.jpg", data: &image };
    let job = accept(&m, original, default_variants(), &Limits::default()).expect("accepted");
    assert_eq!(job.original, ObjectRef { container: "uploads".into(), object: "a/b.jpg".into() });
    assert_eq!(m.objects.borrow().len(), 1, "the source was copied");
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 3), Ok(Outcome::Done));
    // Deleting the job keeps the user's own object.
    delete(&m, &m.get_job(&job.id).expect("get").expect("job")).expect("deleted");
    assert_eq!(m.objects.borrow().len(), 1);
    assert!(m.jobs.borrow().is_empty());
}

#[test]
fn delete_removes_the_record_and_every_blob() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 64)), default_variants(), &Limits::default()).expect("accepted");
    process(&m, &m.work_message(), &Limits::default(), 3).expect("processed");
    assert_eq!(m.objects.borrow().len(), 4);
    delete(&m, &m.get_job(&job.id).expect("get").expect("job")).expect("deleted");
    assert!(m.objects.borrow().is_empty(), "left: {:?}", m.objects.borrow().keys().collect::<Vec<_>>());
    assert!(m.jobs.borrow().is_empty());
}

#[test]
fn an_original_not_fully_stored_yet_is_retried_not_failed() {
    let m = Memory::default();
    let image = jpeg(64, 64);
    let job = accept(&m, Original::Upload(&image), default_variants(), &Limits::default()).expect("accepted");
    let key = (CONTAINER_ORIGINALS.to_string(), job.id.to_string());
    // What a reader sees while the upload's file is still being written: a prefix, or nothing.
    for partial in [Vec::new(), image[..image.len() / 2].to_vec()] {
        m.objects.borrow_mut().insert(key.clone(), partial);
        let retry = process(&m, &m.work_message(), &Limits::default(), 5);
        assert!(matches!(retry, Err(ref why) if why.contains("not fully stored yet")), "{retry:?}");
        let record = m.get_job(&job.id).expect("get").expect("job");
        assert_eq!((record.status, record.attempts), (Status::Queued, 0), "a short original used up an attempt");
    }
    m.objects.borrow_mut().insert(key, image);
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 5), Ok(Outcome::Done));
}

#[test]
fn writes_a_store_finishes_late_are_waited_for() {
    let m = Memory::default();
    m.stored_late.set(3);
    let job = accept(&m, Original::Upload(&jpeg(640, 480)), default_variants(), &Limits::default()).expect("accepted");
    let outcome = process(&m, &m.work_message(), &Limits::default(), 3).expect("processed");
    assert_eq!(outcome, Outcome::Done);
    assert!(m.paused_ms.get() > 0, "never waited for the store");
    let variants = m.objects.borrow().keys().filter(|(c, _)| c == CONTAINER_VARIANTS).count();
    assert_eq!(variants, default_variants().len());
    assert_eq!(m.get_job(&job.id).expect("get").expect("job").status, Status::Done);
}

#[test]
fn a_job_is_not_done_over_a_variant_cut_short_and_its_retry_completes() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(640, 480)), default_variants(), &Limits::default()).expect("accepted");
    m.cut_short.set(true);
    let err = process(&m, &m.work_message(), &Limits::default(), 3).expect_err("retry asked");
    assert!(err.contains("not fully stored"), "{err}");
    assert_ne!(m.get_job(&job.id).expect("get").expect("job").status, Status::Done);
    assert!(!m.subjects().contains(&SUBJECT_DONE.to_string()), "done announced over a cut-short variant");
    m.cut_short.set(false);
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 3).expect("retried"), Outcome::Done);
}

#[test]
fn a_dead_lettered_job_ends_failed_and_a_finished_one_is_left_alone() {
    let m = Memory::default();
    let stuck = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    let dead_letter = m.work_message();
    assert!(matches!(give_up(&m, &dead_letter), Ok(Outcome::Failed(_))));
    let job = m.get_job(&stuck.id).expect("get").expect("job");
    assert_eq!(job.status, Status::Failed);
    assert!(job.error.as_deref().unwrap_or_default().contains(SUBJECT_DEAD), "{:?}", job.error);
    assert!(m.subjects().contains(&SUBJECT_FAILED.to_string()));

    let finished = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    let work = m.work_message();
    assert_eq!(process(&m, &work, &Limits::default(), 3).expect("processed"), Outcome::Done);
    assert_eq!(give_up(&m, &work).expect("handled"), Outcome::Skipped("job already finished"));
    assert_eq!(m.get_job(&finished.id).expect("get").expect("job").status, Status::Done);
    assert!(give_up(&m, b"{not json").is_err());
}

#[test]
fn waiting_for_a_blobstore_that_is_not_there_uses_up_no_attempt() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    m.fail_reads.set(true);
    for _ in 0..5 {
        assert!(process(&m, &m.work_message(), &Limits::default(), 3).is_err());
    }
    assert_eq!(m.get_job(&job.id).expect("get").expect("job").attempts, 0);
    m.fail_reads.set(false);
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 3).expect("processed"), Outcome::Done);
}

/// A work message in the shape queued before messages carried their record.
fn without_copy(work: &[u8]) -> Vec<u8> {
    let work: WorkMessage = serde_json::from_slice(work).expect("work message");
    WorkMessage { id: work.id, job: None }.to_json()
}

#[test]
fn a_record_the_store_does_not_find_is_retried_not_acknowledged() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    let work = without_copy(&m.work_message());
    // A keyvalue store answering "not found" for a record it holds (nats-server shutting down).
    let record = m.jobs.borrow_mut().remove(job.id.as_str()).expect("stored");
    let err = process(&m, &work, &Limits::default(), 3).expect_err("a missing record must be retried");
    assert!(err.contains("no longer exists"), "{err}");
    assert!(!m.subjects().contains(&SUBJECT_DONE.to_string()));
    m.jobs.borrow_mut().insert(job.id.to_string(), record);
    assert_eq!(process(&m, &work, &Limits::default(), 3).expect("retried"), Outcome::Done);

    // A record that is gone for good, with no copy to restore it from: the message is dropped
    // once the queue gives up on it.
    let gone = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    let work = without_copy(&m.work_message());
    m.jobs.borrow_mut().remove(gone.id.as_str());
    assert!(process(&m, &work, &Limits::default(), 3).is_err());
    assert_eq!(give_up(&m, &work).expect("dropped"), Outcome::Skipped("job no longer exists"));
}

#[test]
fn a_record_the_store_lost_is_restored_from_its_work_message_and_finishes() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    m.jobs.borrow_mut().remove(job.id.as_str()).expect("stored");
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 3).expect("processed"), Outcome::Done);
    let done = m.get_job(&job.id).expect("get").expect("restored");
    assert_eq!((done.status, done.attempts, done.variants.len()), (Status::Done, 1, default_variants().len()));
    assert_eq!(m.subjects().iter().filter(|s| *s == SUBJECT_DONE).count(), 1);

    // Finished, deleted, then its work message delivered again (the ack was lost): the copy is
    // not restored without its original, and the queue drops the message once it gives up.
    let work = m.work_message();
    delete(&m, &done).expect("deleted");
    assert!(process(&m, &work, &Limits::default(), 3).is_err(), "a deleted job's redelivery must not be acked as done");
    assert_eq!(m.get_job(&job.id).expect("get"), None, "a deleted job came back");
    assert_eq!(give_up(&m, &work).expect("dropped"), Outcome::Skipped("job no longer exists"));
    assert_eq!(m.get_job(&job.id).expect("get"), None);
}

#[test]
fn an_unfinished_job_is_not_deleted() {
    let m = Memory::default();
    let job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    assert_eq!(delete(&m, &job), Err(DeleteError::Unfinished(Status::Queued)));
    assert_eq!(m.get_job(&job.id).expect("get"), Some(job.clone()));
    assert!(m.read_object(CONTAINER_ORIGINALS, job.id.as_str()).expect("read").is_some(), "the original went");
}

#[test]
fn a_record_that_cannot_be_read_back_is_not_accepted_nor_queued() {
    let m = Memory::default();
    m.lose_record_writes.set(true);
    let err = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect_err("refused");
    assert_eq!(err.http_status(), 503);
    assert!(err.message().contains("not found right after it was stored"), "{}", err.message());
    assert!(!m.subjects().contains(&SUBJECT_WORK.to_string()), "a job the client was refused was queued");
}

#[test]
fn a_job_whose_work_message_was_lost_is_queued_again_once_stale_and_finishes() {
    let m = Memory::default();
    let mut job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    m.published.borrow_mut().clear(); // the queue lost the work message
    assert_eq!(requeue_if_stale(&m, &mut job, 90_000), Ok(false), "requeued while fresh");
    assert!(m.published.borrow().is_empty());
    m.clock.set(m.clock.get() + 90_000);
    assert_eq!(requeue_if_stale(&m, &mut job, 90_000), Ok(true));
    assert_eq!(m.get_job(&job.id).expect("get"), Some(job.clone()), "the requeue is recorded");
    assert_eq!(requeue_if_stale(&m, &mut job, 90_000), Ok(false), "requeued on every read");
    assert_eq!(m.subjects(), vec![SUBJECT_WORK.to_string()]);
    assert_eq!(process(&m, &m.work_message(), &Limits::default(), 3).expect("processed"), Outcome::Done);
    let mut done = m.get_job(&job.id).expect("get").expect("job");
    assert_eq!(done.status, Status::Done);
    m.clock.set(m.clock.get() + 1_000_000);
    assert_eq!(requeue_if_stale(&m, &mut done, 90_000), Ok(false), "a finished job requeued");
}

#[test]
fn work_goes_to_the_deployments_own_work_subject() {
    let m = Memory { work_subject: Some("pixelbus.edge.jobs.work"), ..Memory::default() };
    let mut job = accept(&m, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    m.clock.set(m.clock.get() + 90_000);
    assert_eq!(requeue_if_stale(&m, &mut job, 90_000), Ok(true));
    assert_eq!(m.subjects(), vec!["pixelbus.edge.jobs.work".to_string(); 2], "accept and requeue both use it");
}

#[test]
fn a_finished_job_from_another_zone_is_recorded_once_and_never_over_a_newer_record() {
    let edge = Memory::default();
    accept(&edge, Original::Upload(&jpeg(64, 48)), default_variants(), &Limits::default()).expect("accepted");
    assert_eq!(process(&edge, &edge.work_message(), &Limits::default(), 3), Ok(Outcome::Done));
    let (_, event) = edge.published.borrow().last().cloned().expect("done event");
    let done = Job::from_json(&event).expect("job json");

    let cloud = Memory::default();
    assert_eq!(record_from_zone(&cloud, &event), Ok(true));
    assert_eq!(cloud.get_job(&done.id).expect("get"), Some(done.clone()), "the record, as the edge has it");
    assert!(cloud.objects.borrow().is_empty(), "images are not copied");
    assert_eq!(record_from_zone(&cloud, &event), Ok(false), "a redelivered event changes nothing");

    // An older copy of the record does not replace a newer one.
    let mut older = done.clone();
    older.updated_at = "2000-01-01T00:00:00.000Z".into();
    assert_eq!(record_from_zone(&cloud, &older.to_json()), Ok(false));
    assert_eq!(cloud.get_job(&done.id).expect("get"), Some(done.clone()));

    // Not a finished job, or not a job: dropped, nothing stored.
    let mut queued = done.clone();
    queued.id = JobId::new(1_700_000_000_000, 42);
    queued.status = Status::Queued;
    let stored_before = cloud.jobs.borrow().len();
    assert_eq!(record_from_zone(&cloud, &queued.to_json()), Ok(false));
    assert_eq!(record_from_zone(&cloud, b"{not json"), Ok(false));
    assert_eq!(cloud.jobs.borrow().len(), stored_before);
}
