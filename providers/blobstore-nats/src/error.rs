//! Errors of the blobstore operations. The wrpc interface carries errors as strings: these are
//! their messages, written for the component author reading them.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BlobError {
    #[error("component {component:?} has no blobstore link named {link_name:?}")]
    NoLink { component: String, link_name: String },
    #[error("invalid container name {0:?}: with the link's bucket_prefix it must form a bucket name of 1-200 letters, digits, '-' or '_'")]
    InvalidContainer(String),
    #[error("container {0:?} does not exist")]
    NoContainer(String),
    #[error("object {object:?} does not exist in container {container:?}")]
    NoObject { container: String, object: String },
    #[error("object names must not be empty")]
    EmptyObjectName,
    #[error("invalid byte range: start {start} is after end {end} (both inclusive)")]
    BadRange { start: u64, end: u64 },
    /// The object was replaced or deleted while it was being read.
    #[error("object {object:?} in container {container:?} changed while it was read: {why}")]
    Changed { container: String, object: String, why: String },
    #[error("object {object:?} in container {container:?} is corrupt: {why}")]
    Corrupt { container: String, object: String, why: String },
    /// Made by another NATS client: object store links are not followed.
    #[error("object {object:?} in container {container:?} is a NATS object store link, which this provider does not follow")]
    IsLink { container: String, object: String },
    /// The NATS server or connection failed; `what` says what was being done.
    #[error("{what}: {source}")]
    Nats { what: String, source: async_nats::Error },
    /// The reader of a data stream went away before it was finished.
    #[error("the receiver of the object data went away")]
    ReceiverGone,
}

impl BlobError {
    pub(crate) fn nats(what: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        BlobError::Nats { what: what.into(), source: source.into() }
    }
}

/// Why a link could not be set up.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    Config(#[from] pixelbus_natsconn::ConfigError),
    #[error(transparent)]
    Connect(#[from] pixelbus_natsconn::ConnectError),
    #[error("link config chunk_bytes={chunk_bytes} is more than the NATS server's max_payload of {max_payload} bytes (each chunk is one message)")]
    ChunkTooBig { chunk_bytes: usize, max_payload: usize },
}
