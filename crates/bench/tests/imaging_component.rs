//! `build/imaging.wasm` (components/imaging, built by scripts/build before the tests run) loaded
//! in wasmtime: it renders what the native library renders, and refuses what it refuses.

use std::path::PathBuf;

use pixelbus_bench::imaging::{photo_jpeg, WasmImaging};
use pixelbus_imaging::{default_variants, Limits};

fn component_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../build/imaging.wasm");
    assert!(path.is_file(), "{} is missing: run scripts/build first", path.display());
    path
}

fn component() -> WasmImaging {
    WasmImaging::load(&component_path()).expect("the imaging component loads")
}

#[test]
fn the_component_renders_what_the_native_library_renders() {
    let wasm = component();
    for (width, height) in [(800, 600), (300, 1000)] {
        let jpeg = photo_jpeg(width, height, 7).expect("generated photo");
        let (_, native) = pixelbus_imaging::render(&jpeg, &default_variants(), &Limits::default()).expect("native render");
        let native: Vec<(u32, u32)> = native.iter().map(|r| (r.width, r.height)).collect();
        let from_wasm = wasm.render(&jpeg).expect("wasm render");
        assert_eq!(from_wasm, native, "{width}x{height}");
        assert_eq!(from_wasm.len(), 3);
    }
}

#[test]
fn the_component_refuses_bad_input_with_a_code() {
    let wasm = component();
    let err = wasm.render(b"definitely not an image").expect_err("not an image");
    assert!(format!("{err:#}").contains("unsupported_media_type"), "{err:#}");
    // Cut inside the headers: no pixel data at all.
    let mut truncated = photo_jpeg(640, 480, 3).expect("generated photo");
    truncated.truncate(300);
    let native = pixelbus_imaging::render(&truncated, &default_variants(), &Limits::default()).expect_err("native refuses");
    let err = wasm.render(&truncated).expect_err("truncated");
    assert!(format!("{err:#}").contains(native.code()), "native: {native}; wasm: {err:#}");
}

/// The profile mode's wasm side has wasmtime write a perf map naming the component's functions
/// (what `scripts/profile-imaging` needs to attribute JIT samples), and renders on both sides.
#[test]
fn the_profile_mode_names_the_wasm_functions_for_perf() {
    let path = component_path();
    let map = std::env::temp_dir().join(format!("perf-{}.map", std::process::id()));
    let ms = pixelbus_bench::imaging::profile(&path, pixelbus_bench::imaging::Side::Wasm, 0.3, 1).expect("wasm profile run");
    assert!(ms > 0.0);
    let names = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    assert!(names.contains("zune_jpeg"), "the perf map names no decoder function");
    assert!(names.contains("fast_image_resize"), "the perf map names no resize function");
    let ms = pixelbus_bench::imaging::profile(&path, pixelbus_bench::imaging::Side::Native, 0.3, 1).expect("native profile run");
    assert!(ms > 0.0);
}
