//! Moving object data without holding whole objects: an [`AsyncRead`] over a stream of byte
//! pieces (what the object store's `put` consumes) and a chunk-at-a-time object reader.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_nats::jetstream::object_store::ObjectInfo;
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream as JsStream};
use base64::Engine as _;
use bytes::{Buf as _, Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::BlobError;

/// Reads a stream of byte pieces, handing out reads of `min(space offered, limit)` bytes.
///
/// `ObjectStore::put` publishes every read as one chunk, so pieces are gathered here until a
/// read can be filled: many small pieces still make full-sized chunks. At most `limit` bytes
/// are staged, plus the piece being split.
pub(crate) struct CoalescingReader<S> {
    pieces: S,
    /// Gathered bytes not handed out yet (they survive a `Pending` from `pieces`).
    staged: BytesMut,
    /// The rest of the piece being split.
    current: Bytes,
    limit: usize,
    finished: bool,
}

impl<S> CoalescingReader<S> {
    pub(crate) fn new(pieces: S, limit: usize) -> Self {
        CoalescingReader { pieces, staged: BytesMut::new(), current: Bytes::new(), limit: limit.max(1), finished: false }
    }
}

impl<S> AsyncRead for CoalescingReader<S>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let want = buf.remaining().min(this.limit);
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        while this.staged.len() < want {
            if !this.current.is_empty() {
                if this.staged.is_empty() && this.current.len() >= want {
                    // The piece alone fills the read: no need to stage it.
                    buf.put_slice(&this.current.split_to(want));
                    return Poll::Ready(Ok(()));
                }
                let n = (want - this.staged.len()).min(this.current.len());
                this.staged.extend_from_slice(&this.current.split_to(n));
                continue;
            }
            if this.finished {
                break;
            }
            match this.pieces.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(piece))) => this.current = piece,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => this.finished = true,
                // Nothing was put in `buf`: what is gathered stays staged for the next poll.
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = this.staged.len().min(buf.remaining());
        buf.put_slice(&this.staged[..n]);
        this.staged.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// `[start, end)` of an object of `size` bytes for a request of `start..=end` (wasi:blobstore
/// offsets are inclusive). Past the end of the object is empty, not an error.
pub(crate) fn byte_range(start: u64, end: u64, size: u64) -> Result<(u64, u64), BlobError> {
    if start > end {
        return Err(BlobError::BadRange { start, end });
    }
    let lo = start.min(size);
    let hi = end.saturating_add(1).min(size).max(lo);
    Ok((lo, hi))
}

/// Reads an object's chunks one message at a time with JetStream direct gets: one chunk is in
/// memory at a time, chunks before the range are skipped, reading stops at the range's end.
/// A whole-object read checks the SHA-256 digest the object store recorded.
pub(crate) struct ChunkReader {
    stream: JsStream,
    subject: String,
    container: String,
    object: String,
    /// Stream sequence to look for the next chunk from.
    next_seq: Option<u64>,
    /// Object bytes consumed so far (the offset of the next chunk).
    offset: u64,
    size: u64,
    start: u64,
    end: u64,
    digest: Option<(Sha256, String)>,
}

impl ChunkReader {
    /// `stream` is the bucket's stream; `[start, end)` as made by [`byte_range`].
    pub(crate) fn new(stream: JsStream, container: &str, info: &ObjectInfo, start: u64, end: u64) -> Self {
        let size = info.size as u64;
        let whole = start == 0 && end >= size;
        let digest = info
            .digest
            .as_deref()
            .filter(|d| whole && d.starts_with("SHA-256="))
            .map(|d| (Sha256::new(), d.to_string()));
        ChunkReader {
            stream,
            subject: format!("$O.{}.C.{}", info.bucket, info.nuid),
            container: container.to_string(),
            object: info.name.clone(),
            next_seq: None,
            offset: 0,
            size,
            start,
            end: end.min(size),
            digest,
        }
    }

    fn corrupt(&self, why: impl Into<String>) -> BlobError {
        BlobError::Corrupt { container: self.container.clone(), object: self.object.clone(), why: why.into() }
    }

    /// The next piece of the range, `None` at its end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, BlobError> {
        loop {
            if self.offset >= self.end {
                if let Some((hasher, expected)) = self.digest.take() {
                    let found = format!("SHA-256={}", base64::engine::general_purpose::URL_SAFE.encode(hasher.finalize()));
                    if found != expected {
                        return Err(self.corrupt(format!("digest {found} differs from the recorded {expected}")));
                    }
                }
                return Ok(None);
            }
            let message = match self.stream.direct_get_next_for_subject(&self.subject, self.next_seq).await {
                Ok(m) => m,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => {
                    return Err(BlobError::Changed {
                        container: self.container.clone(),
                        object: self.object.clone(),
                        why: format!("the chunk at byte {} is gone", self.offset),
                    })
                }
                Err(e) => return Err(BlobError::nats(format!("reading {}/{} at byte {}", self.container, self.object, self.offset), e)),
            };
            let seq = message
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_SEQUENCE))
                .and_then(|v| v.as_str().parse::<u64>().ok())
                .ok_or_else(|| self.corrupt("a chunk came without its stream sequence"))?;
            self.next_seq = seq.checked_add(1);
            let payload = message.message.payload;
            if payload.is_empty() {
                return Err(self.corrupt("empty chunk"));
            }
            if let Some((hasher, _)) = &mut self.digest {
                hasher.update(&payload);
            }
            let chunk_start = self.offset;
            self.offset += payload.len() as u64;
            if self.offset > self.size {
                return Err(self.corrupt(format!("chunks hold more than the recorded {} bytes", self.size)));
            }
            if self.offset <= self.start {
                continue;
            }
            // Both bounds lie within this chunk, so they fit in usize.
            let lo = (self.start.saturating_sub(chunk_start)) as usize;
            let hi = (self.end.min(self.offset) - chunk_start) as usize;
            return Ok(Some(if lo == 0 && hi == payload.len() { payload } else { payload.slice(lo..hi) }));
        }
    }

    /// The reader as a stream of pieces for [`CoalescingReader`] (errors become I/O errors).
    pub(crate) fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + Unpin {
        Box::pin(futures::stream::try_unfold(self, |mut reader| async move {
            match reader.next().await {
                Ok(Some(piece)) => Ok(Some((piece, reader))),
                Ok(None) => Ok(None),
                Err(e) => Err(io::Error::other(e)),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[test]
    fn ranges_are_inclusive_and_clamped() {
        assert_eq!(byte_range(0, u64::MAX, 10).ok(), Some((0, 10)));
        assert_eq!(byte_range(2, 4, 10).ok(), Some((2, 5)));
        assert_eq!(byte_range(9, 9, 10).ok(), Some((9, 10)));
        assert_eq!(byte_range(12, 20, 10).ok(), Some((10, 10)));
        assert_eq!(byte_range(0, 0, 0).ok(), Some((0, 0)));
        assert!(matches!(byte_range(5, 4, 10), Err(BlobError::BadRange { start: 5, end: 4 })));
    }

    /// A stream of small pieces that is sometimes not ready, read with buffers of the size the
    /// object store uses: every read but the last is full, and nothing is lost or reordered.
    #[tokio::test]
    async fn small_pieces_make_full_reads() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let pieces: Vec<io::Result<Bytes>> = data.chunks(333).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let pieces = futures::stream::iter(pieces).then(|p| async move {
            tokio::task::yield_now().await;
            p
        });
        let mut reader = CoalescingReader::new(Box::pin(pieces), 4096);
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let mut buf = BytesMut::with_capacity(4096);
            let n = reader.read_buf(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            sizes.push(n);
            out.extend_from_slice(&buf);
        }
        assert_eq!(out, data);
        assert_eq!(sizes.len(), data.len().div_ceil(4096));
        assert!(sizes[..sizes.len() - 1].iter().all(|&n| n == 4096), "{sizes:?}");
    }

    #[tokio::test]
    async fn errors_of_the_pieces_are_read_errors() {
        let pieces = futures::stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err(io::Error::other("boom"))]);
        let mut reader = CoalescingReader::new(pieces, 1024);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).await.expect_err("error passes through");
        assert!(err.to_string().contains("boom"));
    }
}
