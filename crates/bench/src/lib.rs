//! The pieces of `pixelbus-bench` (the binary in `main.rs`), a library so tests can load the
//! same components the benchmarks do.

pub mod coldstart;
pub mod http;
pub mod imaging;
pub mod memory;
pub mod messaging;
pub mod pipeline;
pub mod providers;
pub mod report;
pub mod stats;

/// Deterministic bytes that are not periodic at any chunk size.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
