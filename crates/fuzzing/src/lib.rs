//! The properties pixelbus's fuzz targets check. Each function takes arbitrary bytes and panics
//! when pixelbus misbehaves on them: a panic inside our code or a library's (on wasm32 that is a
//! trap), or an answer that breaks a rule the API promises. The cargo-fuzz targets in `fuzz/`
//! are one-line wrappers around them (`scripts/fuzz` runs them for a bounded time), and
//! `tests/regressions.rs` replays every input the fuzzer ever kept, so a found crash stays
//! fixed under plain `cargo test`.

use std::io::Cursor;

use pixelbus_imaging::{plan, probe, render, Fit, ImagingError, Limits, OutputFormat, VariantSpec};
use pixelbus_jobs::{parse_submit, Job, SubmitSource, WorkMessage};

/// Small enough that one input renders in milliseconds, so the fuzzer tries many.
pub fn fuzz_limits() -> Limits {
    Limits { max_bytes: 1 << 20, max_pixels: 1 << 20, max_dimension: 4096 }
}

/// One variant of each fit and output format.
pub fn fuzz_variants() -> Vec<VariantSpec> {
    let spec = |name: &str, w, h, fit, format| VariantSpec {
        name: name.to_string(),
        max_width: w,
        max_height: h,
        fit,
        format,
        quality: 80,
    };
    vec![
        spec("contain", 64, 64, Fit::Contain, OutputFormat::Jpeg),
        spec("cover", 48, 32, Fit::Cover, OutputFormat::Png),
        spec("exact", 40, 40, Fit::Exact, OutputFormat::Webp),
    ]
}

/// Decode → resize → encode. Whatever the bytes: no panic; `render` accepts only what `probe`
/// accepts and reports the same source; a refusal is one of the client-error codes, never
/// `processing_failed` (a valid image must always render); every output has the planned size
/// (of the source as stored or, EXIF-rotated, as displayed) and decodes as what it claims.
pub fn imaging(data: &[u8]) {
    let limits = fuzz_limits();
    let variants = fuzz_variants();
    let probed = probe(data, &limits);
    match render(data, &variants, &limits) {
        Ok((info, outputs)) => {
            assert_eq!(probed.as_ref().ok(), Some(&info), "render accepted an image probe refused ({probed:?})");
            assert_eq!(outputs.len(), variants.len(), "one output per variant");
            for (out, spec) in outputs.iter().zip(&variants) {
                assert_eq!(out.name, spec.name);
                assert_eq!(out.format, spec.format);
                let stored = plan(info.width, info.height, spec);
                let rotated = plan(info.height, info.width, spec);
                assert!(
                    (out.width, out.height) == (stored.width, stored.height)
                        || (out.width, out.height) == (rotated.width, rotated.height),
                    "{}: {}x{} is neither plan {}x{} nor, rotated, {}x{}",
                    spec.name, out.width, out.height, stored.width, stored.height, rotated.width, rotated.height
                );
                let decoded = image::load_from_memory_with_format(&out.data, image_format(out.format))
                    .unwrap_or_else(|e| panic!("{}: the encoded output does not decode: {e}", spec.name));
                assert_eq!((decoded.width(), decoded.height()), (out.width, out.height), "{}: encoded size", spec.name);
            }
        }
        Err(err) => {
            if let Err(probe_err) = &probed {
                assert_eq!(err.code(), probe_err.code(), "render and probe refuse for different reasons");
            }
            assert!(
                !matches!(err, ImagingError::Resize(_) | ImagingError::Encode(_)),
                "an image that decoded failed to resize or encode: {err}"
            );
            assert!((400..500).contains(&err.http_status()), "{err} maps to HTTP {}", err.http_status());
        }
    }
}

fn image_format(format: OutputFormat) -> image::ImageFormat {
    match format {
        OutputFormat::Jpeg => image::ImageFormat::Jpeg,
        OutputFormat::Png => image::ImageFormat::Png,
        OutputFormat::Webp => image::ImageFormat::WebP,
    }
}

/// What arrives over NATS: a submit message (raw image or JSON naming a stored object and
/// variants), a work message, a job record read back. No panic; a stored source named by the
/// message is a valid container and object name (no empty, `.` or `..` segment, nothing outside
/// `a-z A-Z 0-9 . _ - /`); every requested variant that validates plans to a size inside its box.
pub fn job_messages(data: &[u8]) {
    if let Ok(request) = parse_submit(data) {
        if let SubmitSource::Stored { container, object } = &request.source {
            assert!(
                !container.is_empty() && container.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "container {container:?} let through"
            );
            assert!(
                object.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
                    && object.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/')),
                "object {object:?} let through"
            );
        }
        for spec in request.variants.iter().flatten() {
            if spec.validate().is_err() {
                continue;
            }
            for (w, h) in [(1, 1), (1, 4096), (4096, 1), (640, 480), (16384, 16384)] {
                let p = plan(w, h, spec);
                assert!(p.width >= 1 && p.height >= 1, "{spec:?} on {w}x{h}: empty output");
                assert!(p.width <= spec.max_width && p.height <= spec.max_height, "{spec:?} on {w}x{h}: {p:?} outside the box");
                assert!(p.crop_x + p.crop_width <= w && p.crop_y + p.crop_height <= h, "{spec:?} on {w}x{h}: crop {p:?} outside the source");
            }
        }
    }
    if let Ok(work) = serde_json::from_slice::<WorkMessage>(data) {
        let id = work.id.as_str();
        assert!(id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric()), "work message id {id:?} let through");
        // The record a message carries is only restored for its own job.
        if let Some(copy) = work.queued_copy() {
            assert_eq!(copy.id, work.id, "a copy of another job would be restored");
        }
        let again: WorkMessage = serde_json::from_slice(&work.to_json()).expect("a work message we wrote reads back");
        assert_eq!(again, work, "a work message does not survive a write and a read");
    }
    if let Ok(job) = Job::from_json(data) {
        let again = Job::from_json(&job.to_json()).expect("a record we wrote reads back");
        assert_eq!(again.to_json(), job.to_json(), "a record does not survive a write and a read");
    }
}

/// An HTTP upload: the first line of the input is the content-type, the rest the body. No
/// panic; what is taken as the image is a part of the body.
pub fn upload(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    if let Ok(image) = pixelbus_api::upload::image_bytes(&content_type, body) {
        let range = body.as_ptr_range();
        let inside = image.is_empty() || (range.start <= image.as_ptr() && image.as_ptr_range().end <= range.end);
        assert!(inside, "the image is not a slice of the body");
    }
}

/// Seed inputs for the fuzzer: small images of every format and odd layout we accept.
pub fn seed_images() -> Vec<(String, Vec<u8>)> {
    use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba};
    let rgb = DynamicImage::ImageRgb8(ImageBuffer::from_fn(23, 17, |x, y| Rgb([(x * 11) as u8, (y * 15) as u8, 128])));
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(9, 31, |x, y| Rgba([(x * 28) as u8, 40, (y * 8) as u8, (x * y) as u8])));
    let gray16 = DynamicImage::ImageLuma16(ImageBuffer::from_fn(12, 12, |x, y| Luma([(x * y * 450) as u16])));
    let mut seeds = Vec::new();
    let mut push = |name: &str, image: &DynamicImage, format: ImageFormat| {
        let mut bytes = Cursor::new(Vec::new());
        if image.write_to(&mut bytes, format).is_ok() {
            seeds.push((name.to_string(), bytes.into_inner()));
        }
    };
    push("rgb.jpg", &rgb, ImageFormat::Jpeg);
    push("rgb.png", &rgb, ImageFormat::Png);
    push("rgba.png", &rgba, ImageFormat::Png);
    push("gray16.png", &gray16, ImageFormat::Png);
    push("rgb.gif", &rgb, ImageFormat::Gif);
    push("rgba.webp", &rgba, ImageFormat::WebP);
    seeds
}

/// Seed messages: the shapes `pixelbus.jobs.submit` and `pixelbus.jobs.work` carry.
pub fn seed_messages() -> Vec<(String, Vec<u8>)> {
    [
        ("stored.json", r#"{"source":"photo.jpg"}"#),
        ("container.json", r#"{"source":"pixelbus-originals/a/b.png","variants":[{"name":"t","max_width":64,"max_height":64,"fit":"cover","format":"webp","quality":90}]}"#),
        ("variants.json", r#"{"source":"x","variants":[{"name":"a","max_width":1,"max_height":16384},{"name":"b","max_width":300,"max_height":2,"fit":"exact"}]}"#),
        ("work.json", r#"{"id":"01M8Y96VXZXR97ZS4XMVCM7N7Y"}"#),
    ]
    .into_iter()
    .map(|(name, body)| (name.to_string(), body.as_bytes().to_vec()))
    .collect()
}

/// Seed uploads: a content-type line, then the body.
pub fn seed_uploads() -> Vec<(String, Vec<u8>)> {
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--XyZ--\r\n";
    vec![
        ("multipart".to_string(), format!("multipart/form-data; boundary=XyZ\n{body}").into_bytes()),
        ("raw".to_string(), b"image/png\n\x89PNG\r\n\x1a\n".to_vec()),
    ]
}
