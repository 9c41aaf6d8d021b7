//! The host's runtime (wasmcloud-runtime 0.12 with patches/wasmcloud-runtime.patch)
//! keeps what it compiles in wasmtime's on-disk cache when `PIXELBUS_COMPILE_CACHE_DIR` names a
//! directory, so a redeploy or a restarted host loads the machine code instead of compiling the
//! component again; unset, it compiles every time, as upstream does.
//!
//! One test function: it sets and clears the variable, which the other tests in this binary must
//! not race with.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use wasmcloud_runtime::{Runtime, COMPILE_CACHE_DIR_ENV};

fn hello_wasm() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../build/hello.wasm");
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err} (run scripts/build first)", path.display()))
}

/// Every compiled-code entry under `dir` (the cache's worker adds `.stats` files beside them,
/// in the background), with its inode.
fn entries(dir: &Path) -> Vec<(PathBuf, u64)> {
    files(dir).into_iter().filter(|(path, _)| path.extension().is_none()).collect()
}

/// Every regular file under `dir`, with its inode.
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => found.extend(files(&path)),
            Ok(meta) if meta.is_file() => found.push((path, meta.ino())),
            _ => {}
        }
    }
    found.sort();
    found
}

/// Compiles `wasm` with a runtime built the way wasmcloud-host builds its own.
fn compile_with_new_runtime(wasm: &[u8]) {
    let (runtime, _epoch) = Runtime::builder().build().expect("runtime");
    wasmtime::component::Component::new(runtime.engine(), wasm).expect("hello.wasm compiles");
}

#[test]
fn compiled_components_are_cached_on_disk_only_when_a_cache_dir_is_set() {
    let wasm = hello_wasm();
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("compile-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let cache = scratch.join("cache");

    // Set: the first compile writes the machine code under the directory.
    std::env::set_var(COMPILE_CACHE_DIR_ENV, &cache);
    compile_with_new_runtime(&wasm);
    let written = entries(&cache.join("modules"));
    assert_eq!(written.len(), 1, "one compiled component under {}: {written:?}", cache.display());
    let (entry, inode) = &written[0];
    let compressed = std::fs::metadata(entry).expect("cache entry").len();
    assert!(compressed > 1024, "{} holds machine code, not {compressed} bytes", entry.display());

    // A second runtime (a restarted host) finds it: a miss would compile again and replace the
    // entry (the cache writes a new file and renames it over the old one).
    compile_with_new_runtime(&wasm);
    assert_eq!(entries(&cache.join("modules")), written, "the second compile was served from the cache");
    assert_eq!(std::fs::metadata(entry).expect("cache entry").ino(), *inode);

    // Set and empty, or unset: no cache, nothing written.
    for value in [Some(""), None] {
        let other = scratch.join("unused");
        match value {
            Some(value) => std::env::set_var(COMPILE_CACHE_DIR_ENV, value),
            None => std::env::remove_var(COMPILE_CACHE_DIR_ENV),
        }
        // Where wasmtime's default cache directory would be, had the empty value enabled it.
        std::env::set_var("HOME", &other);
        std::env::set_var("XDG_CACHE_HOME", other.join(".cache"));
        compile_with_new_runtime(&wasm);
        assert!(files(&other).is_empty(), "{value:?}: nothing cached, found {:?}", files(&other));
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
