//! `build/imaging.wasm` (components/imaging, built by scripts/build before the tests run) loaded
//! in wasmtime: it renders what the native library renders, and refuses what it refuses.

use std::path::PathBuf;

use pixelbus_bench::imaging::{photo_jpeg, photo_jpeg_with_quality, WasmImaging};
use pixelbus_imaging::{default_variants, Fit, Limits, OutputFormat, VariantSpec};

fn component_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../build/imaging.wasm");
    assert!(path.is_file(), "{} is missing: run scripts/build first", path.display());
    path
}

fn component() -> WasmImaging {
    WasmImaging::load(&component_path()).expect("the imaging component loads")
}

#[test]
fn the_component_renders_the_bytes_the_native_library_renders() {
    let wasm = component();
    for (width, height) in [(800, 600), (300, 1000)] {
        let jpeg = photo_jpeg(width, height, 7).expect("generated photo");
        let (_, native) = pixelbus_imaging::render(&jpeg, &default_variants(), &Limits::default()).expect("native render");
        let from_wasm = wasm.render_variants(&jpeg, &default_variants()).expect("wasm render");
        assert_eq!(from_wasm.len(), 3);
        for (native, from_wasm) in native.iter().zip(&from_wasm) {
            assert_eq!((from_wasm.width, from_wasm.height), (native.width, native.height), "{width}x{height}");
            // same decoder, resizer and encoder on both sides, each exact: the same bytes
            assert!(native.data == from_wasm.data, "{width}x{height} {}: the encoded bytes differ", native.name);
        }
    }
}

/// The component's JPEG decoder (zune-jpeg with our simd128 IDCT and colour conversion,
/// patches/zune-jpeg-wasm32.patch) gives the native decoder's pixels exactly: each photo is
/// rendered at its own size as PNG (the resizer copies, PNG is lossless), and the pixels compared.
/// Low qualities leave most blocks to the DC-only and 4x4 IDCTs, high ones to the full one; odd
/// sizes end in partial blocks.
#[test]
fn the_component_decodes_to_the_native_pixels() {
    let wasm = component();
    for (width, height, seed, quality) in [(640, 480, 11, 100), (333, 217, 12, 90), (512, 384, 13, 25), (97, 61, 14, 60)] {
        let jpeg = photo_jpeg_with_quality(width, height, seed, quality).expect("generated photo");
        let pixels = [VariantSpec {
            name: "pixels".into(),
            max_width: width,
            max_height: height,
            fit: Fit::Exact,
            format: OutputFormat::Png,
            quality: 100,
        }];
        let (_, native) = pixelbus_imaging::render(&jpeg, &pixels, &Limits::default()).expect("native render");
        let from_wasm = wasm.render_variants(&jpeg, &pixels).expect("wasm render");
        let decode = |png: &[u8]| image::load_from_memory(png).expect("a PNG").into_rgb8();
        let (native, from_wasm) = (decode(&native[0].data), decode(&from_wasm[0].data));
        assert_eq!(from_wasm.dimensions(), (width, height));
        let differ = native.as_raw().iter().zip(from_wasm.as_raw()).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{width}x{height} q{quality}: {differ} of {} samples differ", native.as_raw().len());
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
    // zune-jpeg's own kernels for wasm, from patches/zune-jpeg-wasm32.patch, not its scalar ones
    for kernel in ["idct_simd128", "idct_simd128_4x4", "idct_simd128_1x1", "ycbcr_to_rgb_simd128"] {
        assert!(names.contains(kernel), "the decoder has no {kernel}: is the zune-jpeg patch applied?");
    }
    let ms = pixelbus_bench::imaging::profile(&path, pixelbus_bench::imaging::Side::Native, 0.3, 1).expect("native profile run");
    assert!(ms > 0.0);
}
