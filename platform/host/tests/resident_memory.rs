//! The host's runtime (wasmcloud-runtime 0.12 with patches/wasmcloud-runtime.patch) keeps what
//! an instance wrote to its linear memory resident for the next instance in the same pooling
//! slot (`PIXELBUS_KEEP_RESIDENT_MIB`, 64 by default; reset page by page with PAGEMAP_SCAN), so
//! a component that works through megabytes per call, like the thumbnailer, does not
//! page-fault all of them in again on every call. `0` restores upstream's 10 KiB.
//!
//! Counted in page faults, not time: the second instance of a module that writes one byte in
//! each of its pages takes (almost) none when memory is kept, and one per page when it is not.
//!
//! One test function: it sets and clears the variable, which other tests in this binary must not
//! race with.

use wasmcloud_runtime::{Runtime, KEEP_RESIDENT_MIB_ENV};
use wasmtime::{Module, PoolingAllocationConfig, Store};

/// Pages of 4 KiB the module writes to: 16 MiB, below the default of what is kept.
const PAGES: u32 = 4096;

/// A core module with 64 MiB of memory and `touch(n)`, which stores a byte at the start of each
/// of the first `n` 4 KiB pages. Written out by hand (this crate has no WAT parser):
///
/// ```wat
/// (module
///   (memory 1024)
///   (func (export "touch") (param $n i32) (local $i i32)
///     (block (loop
///       (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
///       (i32.store8 (i32.shl (local.get $i) (i32.const 12)) (i32.const 1))
///       (local.set $i (i32.add (local.get $i) (i32.const 1)))
///       (br 0)))))
/// ```
const TOUCH_WASM: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00, // types: (func (param i32))
    0x03, 0x02, 0x01, 0x00, // functions: one of type 0
    0x05, 0x04, 0x01, 0x00, 0x80, 0x08, // memory: min 1024 pages
    0x07, 0x09, 0x01, 0x05, b't', b'o', b'u', b'c', b'h', 0x00, 0x00, // export "touch"
    0x0a, 0x26, 0x01, 0x24, 0x01, 0x01, 0x7f, // code: one body, one i32 local
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i >= n)
    0x20, 0x01, 0x41, 0x0c, 0x74, 0x41, 0x01, 0x3a, 0x00, 0x00, // store8 (i << 12) 1
    0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i += 1
    0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0, end, end, end
];

/// Minor page faults this thread has taken (field 10 of /proc/thread-self/stat). Wasmtime runs
/// async calls on a fiber of the calling thread, so the wasm's faults count here.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    after_name.split(' ').nth(7).and_then(|field| field.parse().ok()).expect("the minflt field")
}

/// Page faults of one instance of `module` calling `touch(PAGES)`, with the runtime's engine.
async fn faults_of_one_instance(runtime: &Runtime, module: &Module) -> u64 {
    let mut store = Store::new(runtime.engine(), ());
    // The runtime turns on epoch interruption; this test's calls are short.
    store.set_epoch_deadline(u64::MAX / 2);
    let before = minor_faults();
    let instance = wasmtime::Instance::new_async(&mut store, module, &[]).await.expect("instantiating");
    let touch = instance.get_typed_func::<u32, ()>(&mut store, "touch").expect("the touch export");
    touch.call_async(&mut store, PAGES).await.expect("calling touch");
    let faults = minor_faults() - before;
    drop(store);
    faults
}

/// Page faults of a first and a second instance, one after the other, with a runtime built the
/// way wasmcloud-host builds its own under the current environment.
fn faults_of_two_instances() -> (u64, u64) {
    let (runtime, _epoch) = Runtime::builder().build().expect("runtime");
    let module = Module::new(runtime.engine(), TOUCH_WASM).expect("the touch module compiles");
    let executor = tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime");
    executor.block_on(async {
        let first = faults_of_one_instance(&runtime, &module).await;
        let second = faults_of_one_instance(&runtime, &module).await;
        eprintln!("page faults for {PAGES} pages written: first instance {first}, second {second}");
        (first, second)
    })
}

#[test]
fn a_second_instance_finds_the_memory_the_first_wrote_resident_unless_turned_off() {
    // Upstream's behaviour: the slot's memory goes back to the kernel; every page faults again.
    std::env::set_var(KEEP_RESIDENT_MIB_ENV, "0");
    let (first, second) = faults_of_two_instances();
    assert!(first >= u64::from(PAGES) / 2, "the first instance faults each page in: {first} faults for {PAGES} pages");
    assert!(second >= u64::from(PAGES) / 2, "with {KEEP_RESIDENT_MIB_ENV}=0 the second instance faults each page in again: {second}");

    // The default.
    std::env::remove_var(KEEP_RESIDENT_MIB_ENV);
    let (first, second) = faults_of_two_instances();
    assert!(first >= u64::from(PAGES) / 2, "the first instance faults each page in: {first} faults for {PAGES} pages");
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        assert!(
            second < u64::from(PAGES) / 16,
            "the second instance reuses the resident pages: {second} faults for {PAGES} pages (first: {first})"
        );
    } else {
        // Before Linux 6.7 there is no PAGEMAP_SCAN, and the patch keeps upstream's behaviour.
        assert!(second >= u64::from(PAGES) / 2, "no PAGEMAP_SCAN: memory is released as upstream does: {second}");
    }
}
