//! Embeds the `/local/` page in the component: its own sources (`web/local/`) and what
//! `scripts/build` made for it (`build/local/`: the jco transpilation of `build/imaging.wasm`,
//! the WASI browser shim it imports, `build.json`). A build without `build/local/` (bare
//! `cargo build`) serves the page, which then says the imaging component is missing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let mut files = Vec::new();
    for dir in [root.join("web/local"), root.join("build/local")] {
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, &dir, &mut files);
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut out = String::from("/// `(path under /local/, content-type, bytes)`, sorted by path.\npub static ASSETS: &[(&str, &str, &[u8])] = &[\n");
    for (name, path) in &files {
        let Some(mime) = content_type(name) else { continue };
        let path = path.canonicalize().unwrap_or_else(|_| path.clone());
        writeln!(out, "    ({name:?}, {mime:?}, include_bytes!({:?})),", path.display().to_string()).expect("write to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("local_assets.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

/// Every file under `dir`, named by its path relative to `base` with `/` separators.
fn collect(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, files);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let name = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            files.push((name, path));
        }
    }
}

/// What the browser needs to be told; other files (type declarations, maps) are not served.
fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "css" => "text/css; charset=utf-8",
        _ => return None,
    })
}
