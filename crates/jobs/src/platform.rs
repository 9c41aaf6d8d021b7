//! What the pipeline needs from the world, as a trait: the components implement it over
//! wasi:keyvalue, wasi:blobstore and wasmcloud:messaging (`crates/guest`); tests implement it in
//! memory. Errors are strings: they come from providers as strings and end up in logs.

use crate::{Job, JobId, SUBJECT_WORK};

pub trait Platform {
    fn now_ms(&self) -> u64;
    fn random_u128(&self) -> u128;

    fn get_job(&self, id: &JobId) -> Result<Option<Job>, String>;
    fn put_job(&self, job: &Job) -> Result<(), String>;
    fn delete_job(&self, id: &JobId) -> Result<(), String>;
    /// Every job id in the store, in no particular order.
    fn list_job_ids(&self) -> Result<Vec<String>, String>;

    fn read_object(&self, container: &str, object: &str) -> Result<Option<Vec<u8>>, String>;
    fn write_object(&self, container: &str, object: &str, data: &[u8]) -> Result<(), String>;
    fn delete_object(&self, container: &str, object: &str) -> Result<(), String>;
    /// The stored size of an object (`None` when there is no such object).
    fn object_size(&self, container: &str, object: &str) -> Result<Option<u64>, String>;
    /// Blocks the caller (between polls of the store).
    fn pause_ms(&self, ms: u64);

    fn publish(&self, subject: &str, body: &[u8]) -> Result<(), String>;
    fn log(&self, level: LogLevel, message: &str);

    /// Where work messages go. A deployment that shares a NATS account with another one (an
    /// edge leaf node of a cloud hub, or a lattice swapped between manifests) gives each its own
    /// queue subject, so one zone's work is not captured by the other zone's work stream.
    fn work_subject(&self) -> &str {
        SUBJECT_WORK
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}
