use super::*;
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A smooth gradient with some structure, so encoders have something real to do.
fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, ((x ^ y) & 0xff) as u8])
    })
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("test image encodes");
    out.into_inner()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encoded(&DynamicImage::ImageRgb8(gradient(width, height)), ImageFormat::Jpeg)
}

fn decode_output(r: &Rendered) -> DynamicImage {
    image::load_from_memory(&r.data).expect("rendered output decodes")
}

#[test]
fn every_input_format_renders_every_output_format() {
    let source = DynamicImage::ImageRgb8(gradient(320, 200));
    for input in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
        let bytes = encoded(&source, input);
        for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
            let spec = VariantSpec { format, ..VariantSpec::new("v", 100) };
            let (info, out) = render(&bytes, &[spec], &Limits::default())
                .unwrap_or_else(|e| panic!("{input:?} -> {format:?}: {e}"));
            assert_eq!((info.width, info.height), (320, 200));
            assert_eq!(out[0].format, format);
            let decoded = decode_output(&out[0]);
            assert_eq!((decoded.width(), decoded.height()), (100, 63), "{input:?} -> {format:?}");
            assert_eq!(image::guess_format(&out[0].data).ok(), Some(match format {
                OutputFormat::Jpeg => ImageFormat::Jpeg,
                OutputFormat::Png => ImageFormat::Png,
                OutputFormat::Webp => ImageFormat::WebP,
            }));
        }
    }
}

#[test]
fn default_variants_have_the_documented_sizes() {
    let (_, out) = render(&jpeg(2000, 1500), &default_variants(), &Limits::default()).expect("renders");
    let sizes: Vec<_> = out.iter().map(|r| (r.name.as_str(), r.width, r.height)).collect();
    assert_eq!(sizes, vec![("thumb", 128, 96), ("small", 480, 360), ("medium", 1024, 768)]);
    for r in &out {
        let d = decode_output(r);
        assert_eq!((d.width(), d.height()), (r.width, r.height));
    }
}

#[test]
fn fit_modes_produce_their_boxes() {
    let bytes = jpeg(400, 300);
    let spec = |fit| VariantSpec { fit, ..VariantSpec { max_width: 100, max_height: 50, ..VariantSpec::new("v", 1) } };
    let sizes: Vec<_> = [Fit::Contain, Fit::Cover, Fit::Exact]
        .into_iter()
        .map(|fit| {
            let (_, out) = render(&bytes, &[spec(fit)], &Limits::default()).expect("renders");
            let d = decode_output(&out[0]);
            (d.width(), d.height())
        })
        .collect();
    assert_eq!(sizes, vec![(67, 50), (100, 50), (100, 50)]);
}

#[test]
fn cover_crops_the_centre() {
    // Left third red, middle green, right third blue: a square cover crop keeps the green middle.
    let img = RgbImage::from_fn(300, 100, |x, _| match x {
        0..=99 => Rgb([255, 0, 0]),
        100..=199 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    });
    let bytes = encoded(&DynamicImage::ImageRgb8(img), ImageFormat::Png);
    let spec = VariantSpec { fit: Fit::Cover, format: OutputFormat::Png, ..VariantSpec::new("sq", 50) };
    let (_, out) = render(&bytes, &[spec], &Limits::default()).expect("renders");
    let d = decode_output(&out[0]).into_rgb8();
    assert_eq!(d.dimensions(), (50, 50));
    let centre = d.get_pixel(25, 25);
    assert!(centre[1] > 200 && centre[0] < 50 && centre[2] < 50, "centre pixel {centre:?}");
}

/// Inserts an EXIF APP1 segment with the given orientation right after a JPEG's SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 offset
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    let rotated = with_exif_orientation(&jpeg(400, 200), 6); // 90° clockwise
    let (info, out) = render(&rotated, &[VariantSpec::new("v", 1000)], &Limits::default()).expect("renders");
    // The header says 400x200; what a viewer shows, and what we render, is 200x400.
    assert_eq!((info.width, info.height), (400, 200));
    assert_eq!((out[0].width, out[0].height), (200, 400));
    let upright = render(&with_exif_orientation(&jpeg(400, 200), 1), &[VariantSpec::new("v", 1000)], &Limits::default())
        .expect("renders").1;
    assert_eq!((upright[0].width, upright[0].height), (400, 200));
}

#[test]
fn transparent_png_to_jpeg_is_flattened_on_white() {
    let img = RgbaImage::from_pixel(64, 64, Rgba([0, 0, 0, 0]));
    let bytes = encoded(&DynamicImage::ImageRgba8(img), ImageFormat::Png);
    let (_, out) = render(&bytes, &[VariantSpec::new("v", 32)], &Limits::default()).expect("renders");
    let px = *decode_output(&out[0]).into_rgb8().get_pixel(16, 16);
    assert!(px.0.iter().all(|c| *c > 240), "transparent became {px:?}, not white");
}

#[test]
fn sixteen_bit_png_renders() {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(50, 40, |x, y| Rgb([x as u16 * 1000, y as u16 * 1000, 30000]));
    let bytes = encoded(&DynamicImage::ImageRgb16(img), ImageFormat::Png);
    let (_, out) = render(&bytes, &[VariantSpec::new("v", 25)], &Limits::default()).expect("renders");
    assert_eq!((out[0].width, out[0].height), (25, 20));
}

#[test]
fn content_is_sniffed_not_trusted() {
    assert_eq!(SourceFormat::sniff(&jpeg(8, 8)), Some(SourceFormat::Jpeg));
    assert_eq!(SourceFormat::sniff(b"GIF89a...."), Some(SourceFormat::Gif));
    assert_eq!(SourceFormat::sniff(b"hello, I am a text file"), None);
    assert_eq!(probe(b"hello, I am a text file", &Limits::default()), Err(ImagingError::UnsupportedFormat));
    // BMP is an image, but not one we accept.
    let bmp = encoded(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Bmp);
    assert_eq!(probe(&bmp, &Limits::default()).map_err(|e| e.code()), Err("unsupported_media_type"));
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(probe(&[], &Limits::default()), Err(ImagingError::Empty));
    assert_eq!(ImagingError::Empty.http_status(), 400);
}

#[test]
fn byte_limit_is_checked_first() {
    let limits = Limits { max_bytes: 100, ..Limits::default() };
    let err = probe(&jpeg(64, 64), &limits).expect_err("over the byte limit");
    assert!(matches!(err, ImagingError::TooManyBytes { max: 100, .. }), "{err:?}");
    assert_eq!(err.http_status(), 413);
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG whose header claims `width`×`height` and whose (tiny) data is garbage.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(idat);
    png.extend_from_slice(&crc32(idat).to_be_bytes());
    png
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let err = probe(&png_claiming(100_000, 100_000), &Limits::default()).expect_err("bomb refused");
    assert!(matches!(err, ImagingError::TooWide { width: 100_000, .. }), "{err:?}");
    // Under the side limit but over the pixel limit.
    let err = probe(&png_claiming(16_000, 16_000), &Limits::default()).expect_err("bomb refused");
    assert!(matches!(err, ImagingError::TooManyPixels { .. }), "{err:?}");
    assert_eq!(err.code(), "too_large");
    assert_eq!(err.http_status(), 422);
    // render goes through the same check, before decoding.
    assert!(render(&png_claiming(16_000, 16_000), &default_variants(), &Limits::default()).is_err());
}

#[test]
fn a_decoder_refusing_to_allocate_is_a_size_refusal() {
    let limit = image::error::LimitError::from_kind(image::error::LimitErrorKind::InsufficientMemory);
    let err = ImagingError::from(image::ImageError::Limits(limit));
    assert_eq!((err.code(), err.http_status()), ("too_large", 422));
    let other = image::ImageError::IoError(std::io::Error::other("cut short"));
    assert_eq!(ImagingError::from(other).code(), "invalid_image");
}

#[test]
fn truncated_and_corrupt_inputs_fail_cleanly() {
    let sources = [
        jpeg(120, 80),
        encoded(&DynamicImage::ImageRgb8(gradient(120, 80)), ImageFormat::Png),
        encoded(&DynamicImage::ImageRgb8(gradient(120, 80)), ImageFormat::Gif),
        encoded(&DynamicImage::ImageRgb8(gradient(120, 80)), ImageFormat::WebP),
    ];
    for source in &sources {
        for cut in (1..source.len()).step_by(7) {
            // Must return (an image or an error), never panic or hang.
            let result = render(&source[..cut], &[VariantSpec::new("v", 32)], &Limits::default());
            if cut < 24 {
                assert!(result.is_err(), "a {cut}-byte prefix rendered");
            }
            if let Err(err) = result {
                assert!(
                    ["invalid_image", "unsupported_media_type"].contains(&err.code()),
                    "cut {cut}: {err:?}"
                );
            }
        }
        // Flipped bytes in the middle.
        let mut corrupt = source.clone();
        let mid = corrupt.len() / 2;
        for b in &mut corrupt[mid..mid + 16] {
            *b ^= 0x5A;
        }
        let _ = render(&corrupt, &[VariantSpec::new("v", 32)], &Limits::default());
    }
}

#[test]
fn bad_variants_are_refused_before_decoding() {
    let bytes = jpeg(10, 10);
    for (spec, why) in [
        (VariantSpec::new("", 10), "empty name"),
        (VariantSpec::new("../etc", 10), "path in name"),
        (VariantSpec::new("Thumb", 10), "uppercase"),
        (VariantSpec::new("original", 10), "reserved"),
        (VariantSpec::new("v", 0), "zero box"),
        (VariantSpec::new("v", MAX_VARIANT_SIDE_FOR_TESTS + 1), "huge box"),
        (VariantSpec { quality: 0, ..VariantSpec::new("v", 10) }, "quality 0"),
    ] {
        let err = render(&bytes, &[spec], &Limits::default()).expect_err(why);
        assert_eq!(err.code(), "invalid_variant", "{why}");
    }
}

const MAX_VARIANT_SIDE_FOR_TESTS: u32 = spec::MAX_VARIANT_SIDE;

#[test]
fn variant_spec_json_has_defaults() {
    let spec: VariantSpec = serde_json::from_str(r#"{"name":"t","max_width":64,"max_height":64}"#).expect("parses");
    assert_eq!(spec, VariantSpec::new("t", 64));
    let spec: VariantSpec =
        serde_json::from_str(r#"{"name":"t","max_width":64,"max_height":32,"fit":"cover","format":"webp","quality":90}"#)
            .expect("parses");
    assert_eq!((spec.fit, spec.format, spec.quality), (Fit::Cover, OutputFormat::Webp, 90));
}

/// An Adobe CMYK JPEG (as print workflows save them): the left half red, the right half cyan.
fn cmyk_jpeg(width: u16, height: u16) -> Vec<u8> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|_| (0..width).flat_map(move |x| if x < width / 2 { [0u8, 255, 255, 0] } else { [255u8, 0, 0, 0] }))
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Cmyk)
        .expect("CMYK test image encodes");
    out
}

#[test]
fn cmyk_jpeg_renders_in_its_colours() {
    let (info, out) = render(&cmyk_jpeg(200, 100), &[VariantSpec::new("v", 100)], &Limits::default()).expect("CMYK renders");
    assert_eq!((info.width, info.height), (200, 100));
    let rgb = decode_output(&out[0]).to_rgb8();
    assert_eq!(rgb.dimensions(), (100, 50));
    let near = |p: &Rgb<u8>, want: [u8; 3]| p.0.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 40);
    let (left, right) = (rgb.get_pixel(10, 25), rgb.get_pixel(90, 25));
    assert!(near(left, [255, 0, 0]), "left half should be red, is {left:?}");
    assert!(near(right, [0, 255, 255]), "right half should be cyan, is {right:?}");
}
