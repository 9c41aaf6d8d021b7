//! The imaging library on real photographs (see photos/README.md for their origin and licence).

use pixelbus_imaging::{default_variants, render, Limits, OutputFormat, SourceFormat, VariantSpec};

fn photo(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/photos").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn real_photos_render_to_the_default_variants() {
    for (name, format, (w, h)) in [
        ("rocket.jpg", SourceFormat::Jpeg, (640, 427)),
        ("coffee.jpg", SourceFormat::Jpeg, (600, 400)),
        ("camera.png", SourceFormat::Png, (512, 512)),
    ] {
        let (info, out) = render(&photo(name), &default_variants(), &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((info.format, info.width, info.height), (format, w, h), "{name}");
        for r in &out {
            let decoded = image::load_from_memory(&r.data).unwrap_or_else(|e| panic!("{name}/{}: {e}", r.name));
            assert_eq!((decoded.width(), decoded.height()), (r.width, r.height));
            // Never enlarged, aspect kept within a pixel of rounding.
            assert!(r.width <= w && r.height <= h, "{name}/{} enlarged", r.name);
            let aspect_in = f64::from(w) / f64::from(h);
            let aspect_out = f64::from(r.width) / f64::from(r.height);
            assert!((aspect_in - aspect_out).abs() < 0.02, "{name}/{}: aspect {aspect_out} vs {aspect_in}", r.name);
        }
        let thumb = &out[0];
        assert_eq!(thumb.width.max(thumb.height), 128, "{name}");
    }
}

#[test]
fn resized_photo_still_looks_like_the_photo() {
    // Downscale, then compare the mean colour with the original's: a broken resize (wrong
    // channel order, wrong stride) changes it a lot; a good one barely at all.
    let bytes = photo("coffee.jpg");
    let original = image::load_from_memory(&bytes).expect("decodes").into_rgb8();
    let spec = VariantSpec { format: OutputFormat::Png, ..VariantSpec::new("v", 150) };
    let (_, out) = render(&bytes, &[spec], &Limits::default()).expect("renders");
    let small = image::load_from_memory(&out[0].data).expect("decodes").into_rgb8();
    let mean = |img: &image::RgbImage| -> [f64; 3] {
        let n = f64::from(img.width() * img.height());
        let mut sum = [0f64; 3];
        for p in img.pixels() {
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
        sum.map(|s| s / n)
    };
    let (a, b) = (mean(&original), mean(&small));
    for c in 0..3 {
        assert!((a[c] - b[c]).abs() < 3.0, "channel {c}: mean {} became {}", a[c], b[c]);
    }
}
