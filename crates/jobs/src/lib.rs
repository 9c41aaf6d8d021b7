//! The pipeline shared by `components/api` and `components/thumbnailer`: the job record kept in
//! keyvalue, the names of everything stored, the messages on NATS, and the two halves of the
//! work ([`pipeline::accept`], [`pipeline::process`]) written against the [`Platform`] trait.
//! Pure Rust: tested natively with an in-memory platform.

mod id;
mod names;
pub mod pipeline;
mod platform;
mod record;
mod submit;
mod time;

pub use id::{JobId, JobIdError};
pub use names::*;
pub use platform::{LogLevel, Platform};
pub use record::{Job, ObjectRef, SourceSummary, Status, Timings, VariantResult, WorkMessage};
pub use submit::{parse_submit, SubmitError, SubmitRequest, SubmitSource};
pub use time::rfc3339_millis;

#[cfg(test)]
mod tests;
