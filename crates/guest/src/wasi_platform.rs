//! [`Platform`] over the imported wasi / wasmCloud interfaces.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pixelbus_jobs::{Job, JobId, LogLevel, Platform, BUCKET_JOBS, SUBJECT_WORK};

use crate::bindings::wasi::blobstore::blobstore;
use crate::bindings::wasi::blobstore::types::{IncomingValue, OutgoingValue};
use crate::bindings::wasi::config::store as config;
use crate::bindings::wasi::keyvalue::store as keyvalue;
use crate::bindings::wasi::logging::logging;
use crate::bindings::wasmcloud::messaging::consumer;
use crate::bindings::wasmcloud::messaging::types::BrokerMessage;
use crate::{Settings, SettingsError};

/// Talks to whatever the manifest linked: the component never knows which provider it is.
pub struct WasiPlatform {
    /// Name passed to `wasi:keyvalue/store.open` (the provider maps it to its bucket).
    bucket: String,
    /// Used in log lines.
    context: &'static str,
    /// Opened containers: opening one asks the provider whether it exists (a wRPC round trip),
    /// so a platform (one request, one job) opens each container once.
    containers: RefCell<HashMap<String, Rc<blobstore::Container>>>,
    /// Where work messages go (`work_subject` in [`Settings`]).
    work_subject: String,
}

impl WasiPlatform {
    pub fn new(context: &'static str) -> Self {
        WasiPlatform {
            bucket: BUCKET_JOBS.to_string(),
            context,
            containers: RefCell::default(),
            work_subject: SUBJECT_WORK.to_string(),
        }
    }

    /// Queues work on `subject` instead of the default `pixelbus.jobs.work`.
    pub fn with_work_subject(mut self, subject: &str) -> Self {
        self.work_subject = subject.to_string();
        self
    }

    /// Settings from wasi:config (see [`Settings`]).
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let pairs = config::get_all().map_err(|e| SettingsError(format!("config unavailable: {e:?}")))?;
        Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn open_bucket(&self) -> Result<keyvalue::Bucket, String> {
        keyvalue::open(&self.bucket).map_err(|e| format!("keyvalue open {}: {}", self.bucket, kv_error(&e)))
    }

    fn container(&self, name: &str) -> Result<Rc<blobstore::Container>, String> {
        if let Some(c) = self.containers.borrow().get(name) {
            return Ok(Rc::clone(c));
        }
        let opened = match blobstore::get_container(name) {
            Ok(c) => c,
            // First use: create it (another instance may race us to it; then get it again).
            Err(_) => blobstore::create_container(name)
                .or_else(|_| blobstore::get_container(name))
                .map_err(|e| format!("blobstore container {name}: {e}"))?,
        };
        let opened = Rc::new(opened);
        self.containers.borrow_mut().insert(name.to_string(), Rc::clone(&opened));
        Ok(opened)
    }
}

/// After a blobstore call on `object` failed with `failure`: `None` if the object is not there,
/// else the failure. wasi:blobstore errors are strings, so "not found" cannot be told apart
/// from a real failure but by asking.
fn none_if_missing<T>(c: &blobstore::Container, object: &str, failure: String) -> Result<Option<T>, String> {
    match c.has_object(object) {
        Ok(false) => Ok(None),
        _ => Err(failure),
    }
}

fn kv_error(e: &keyvalue::Error) -> String {
    match e {
        keyvalue::Error::NoSuchStore => "no such store".to_string(),
        keyvalue::Error::AccessDenied => "access denied".to_string(),
        keyvalue::Error::Other(s) => s.clone(),
    }
}

impl Platform for WasiPlatform {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }

    fn random_u128(&self) -> u128 {
        let bytes = crate::bindings::wasi::random::random::get_random_bytes(16);
        bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
    }

    fn get_job(&self, id: &JobId) -> Result<Option<Job>, String> {
        let bucket = self.open_bucket()?;
        let Some(bytes) = bucket.get(id.as_str()).map_err(|e| format!("keyvalue get {id}: {}", kv_error(&e)))? else {
            return Ok(None);
        };
        Job::from_json(&bytes).map(Some).map_err(|e| format!("job record {id} is corrupt: {e}"))
    }

    fn put_job(&self, job: &Job) -> Result<(), String> {
        self.open_bucket()?
            .set(job.id.as_str(), &job.to_json())
            .map_err(|e| format!("keyvalue set {}: {}", job.id, kv_error(&e)))
    }

    fn delete_job(&self, id: &JobId) -> Result<(), String> {
        self.open_bucket()?
            .delete(id.as_str())
            .map_err(|e| format!("keyvalue delete {id}: {}", kv_error(&e)))
    }

    fn list_job_ids(&self) -> Result<Vec<String>, String> {
        let bucket = self.open_bucket()?;
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = bucket
                .list_keys(cursor)
                .map_err(|e| format!("keyvalue list-keys: {}", kv_error(&e)))?;
            ids.extend(page.keys);
            match page.cursor {
                Some(next) if Some(next) != cursor => cursor = Some(next),
                _ => break,
            }
        }
        Ok(ids)
    }

    fn read_object(&self, container: &str, object: &str) -> Result<Option<Vec<u8>>, String> {
        let c = self.container(container)?;
        // Read first, and ask whether the object exists only when that fails: one provider call
        // for an object that is there, which is what every job reads.
        let value = match c.get_data(object, 0, u64::MAX) {
            Ok(value) => value,
            Err(e) => return none_if_missing(&c, object, format!("blobstore get {container}/{object}: {e}")),
        };
        IncomingValue::incoming_value_consume_sync(value)
            .map(Some)
            .map_err(|e| format!("blobstore read {container}/{object}: {e}"))
    }

    fn write_object(&self, container: &str, object: &str, data: &[u8]) -> Result<(), String> {
        let c = self.container(container)?;
        let value = OutgoingValue::new_outgoing_value();
        let body = value
            .outgoing_value_write_body()
            .map_err(|()| format!("blobstore {container}/{object}: no body stream"))?;
        // Start the write first so the provider consumes the stream while we fill it.
        c.write_data(object, &value)
            .map_err(|e| format!("blobstore write {container}/{object}: {e}"))?;
        crate::write_all(&body, data).map_err(|e| format!("blobstore write {container}/{object}: {e:?}"))?;
        drop(body);
        OutgoingValue::finish(value).map_err(|e| format!("blobstore finish {container}/{object}: {e}"))
    }

    fn delete_object(&self, container: &str, object: &str) -> Result<(), String> {
        self.container(container)?
            .delete_object(object)
            .map_err(|e| format!("blobstore delete {container}/{object}: {e}"))
    }

    fn object_size(&self, container: &str, object: &str) -> Result<Option<u64>, String> {
        let c = self.container(container)?;
        match c.object_info(object) {
            Ok(info) => Ok(Some(info.size)),
            Err(e) => none_if_missing(&c, object, format!("blobstore object-info {container}/{object}: {e}")),
        }
    }

    fn pause_ms(&self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    fn publish(&self, subject: &str, body: &[u8]) -> Result<(), String> {
        consumer::publish(&BrokerMessage {
            subject: subject.to_string(),
            body: body.to_vec(),
            reply_to: None,
        })
        .map_err(|e| format!("publish {subject}: {e}"))
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => logging::Level::Debug,
            LogLevel::Info => logging::Level::Info,
            LogLevel::Warn => logging::Level::Warn,
            LogLevel::Error => logging::Level::Error,
        };
        logging::log(level, self.context, message);
    }

    fn work_subject(&self) -> &str {
        &self.work_subject
    }
}
