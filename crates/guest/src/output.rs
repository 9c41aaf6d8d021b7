//! Writing bytes to a wasi:io output stream in as few writes as the stream takes.
//!
//! `blocking-write-and-flush` takes at most 4096 bytes a call. `check-write` says how many the
//! stream takes now: the host's blobstore stream 64 KiB, a wasi:http body more. Every write to a
//! blobstore value is one wRPC frame (one NATS message to the provider), so a 621 KiB original
//! written 4096 bytes at a time went out as 156 messages where 10 do.

/// The part of `wasi:io/streams.output-stream` that writing needs.
pub trait OutputSink {
    type Error;
    /// How many bytes the stream takes now; 0 means wait.
    fn check_write(&self) -> Result<u64, Self::Error>;
    /// Writes at most what `check_write` last allowed.
    fn write(&self, bytes: &[u8]) -> Result<(), Self::Error>;
    /// Blocks until the stream takes more (or has failed, which the next call reports).
    fn wait_writable(&self);
    /// Flushes, blocking until done.
    fn flush(&self) -> Result<(), Self::Error>;
}

/// Writes all of `data`, each write as large as the stream allows, then flushes.
pub fn write_all<S: OutputSink>(sink: &S, mut data: &[u8]) -> Result<(), S::Error> {
    while !data.is_empty() {
        let allowed = sink.check_write()?;
        if allowed == 0 {
            sink.wait_writable();
            continue;
        }
        let n = usize::try_from(allowed).unwrap_or(usize::MAX).min(data.len());
        let (now, rest) = data.split_at(n);
        sink.write(now)?;
        data = rest;
    }
    sink.flush()
}

#[cfg(target_family = "wasm")]
impl OutputSink for crate::bindings::wasi::io::streams::OutputStream {
    type Error = crate::bindings::wasi::io::streams::StreamError;

    fn check_write(&self) -> Result<u64, Self::Error> {
        crate::bindings::wasi::io::streams::OutputStream::check_write(self)
    }
    fn write(&self, bytes: &[u8]) -> Result<(), Self::Error> {
        crate::bindings::wasi::io::streams::OutputStream::write(self, bytes)
    }
    fn wait_writable(&self) {
        self.subscribe().block();
    }
    fn flush(&self) -> Result<(), Self::Error> {
        self.blocking_flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// A stream that takes `allowance[i]` bytes at its i-th `check_write` (then the last one
    /// again), and records what it was given.
    struct Recorder {
        allowance: Vec<u64>,
        checks: Cell<usize>,
        writes: RefCell<Vec<Vec<u8>>>,
        waits: Cell<usize>,
        flushes: Cell<usize>,
        fail_at_write: Option<usize>,
    }

    impl Recorder {
        fn new(allowance: &[u64]) -> Self {
            Recorder {
                allowance: allowance.to_vec(),
                checks: Cell::new(0),
                writes: RefCell::default(),
                waits: Cell::new(0),
                flushes: Cell::new(0),
                fail_at_write: None,
            }
        }
        fn written(&self) -> Vec<u8> {
            self.writes.borrow().concat()
        }
        fn sizes(&self) -> Vec<usize> {
            self.writes.borrow().iter().map(Vec::len).collect()
        }
    }

    impl OutputSink for Recorder {
        type Error = &'static str;
        fn check_write(&self) -> Result<u64, &'static str> {
            let i = self.checks.get();
            self.checks.set(i + 1);
            Ok(self.allowance[i.min(self.allowance.len() - 1)])
        }
        fn write(&self, bytes: &[u8]) -> Result<(), &'static str> {
            if self.fail_at_write == Some(self.writes.borrow().len()) {
                return Err("broken pipe");
            }
            self.writes.borrow_mut().push(bytes.to_vec());
            Ok(())
        }
        fn wait_writable(&self) {
            self.waits.set(self.waits.get() + 1);
        }
        fn flush(&self) -> Result<(), &'static str> {
            self.flushes.set(self.flushes.get() + 1);
            Ok(())
        }
    }

    fn photo_sized(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn writes_are_as_large_as_the_stream_takes() {
        let data = photo_sized(621 * 1024);
        let sink = Recorder::new(&[64 * 1024]);
        write_all(&sink, &data).expect("written");
        assert_eq!(sink.written(), data);
        // 621 KiB in 64 KiB writes: 10, where 4096-byte writes took 156.
        assert_eq!(sink.sizes().len(), 10);
        assert!(sink.sizes()[..9].iter().all(|&n| n == 64 * 1024));
        assert_eq!(sink.flushes.get(), 1);
    }

    #[test]
    fn a_full_stream_is_waited_for_not_spun_on() {
        let data = photo_sized(10_000);
        let sink = Recorder::new(&[0, 4096, 0, 0, 100_000]);
        write_all(&sink, &data).expect("written");
        assert_eq!(sink.written(), data);
        assert_eq!(sink.sizes(), vec![4096, 10_000 - 4096]);
        assert_eq!(sink.waits.get(), 3);
    }

    #[test]
    fn an_allowance_over_the_data_writes_it_once() {
        let sink = Recorder::new(&[u64::MAX]);
        write_all(&sink, b"ok").expect("written");
        assert_eq!(sink.sizes(), vec![2]);
        let empty = Recorder::new(&[0]);
        write_all(&empty, b"").expect("nothing to write");
        assert!(empty.writes.borrow().is_empty());
        assert_eq!(empty.flushes.get(), 1);
    }

    #[test]
    fn a_failed_write_stops_and_is_reported() {
        let mut sink = Recorder::new(&[1000]);
        sink.fail_at_write = Some(1);
        assert_eq!(write_all(&sink, &photo_sized(5000)), Err("broken pipe"));
        assert_eq!(sink.sizes(), vec![1000]);
        assert_eq!(sink.flushes.get(), 0);
    }
}
