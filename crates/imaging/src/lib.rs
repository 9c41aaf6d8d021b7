//! pixelbus image logic: everything between "some bytes arrived" and "here are the variants".
//!
//! - [`probe`] sniffs the real format from the bytes (the declared content-type is never
//!   trusted) and checks the size limits from the header alone, before any pixel is decoded.
//! - [`render`] decodes (honouring EXIF orientation), resizes each [`VariantSpec`] with a
//!   Lanczos3 filter and encodes it.
//!
//! Animated GIF and WebP: the first frame is used.

mod error;
mod geometry;
mod spec;

pub use error::ImagingError;
pub use geometry::{plan, Plan};
pub use spec::{default_variants, Fit, Limits, OutputFormat, SourceFormat, VariantSpec};

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader};
use serde::{Deserialize, Serialize};

/// What was learnt about a source image from its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub format: SourceFormat,
    /// Width and height as stored, before EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// One encoded variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    pub data: Vec<u8>,
}

/// Sniffs the format and reads the dimensions from the header, enforcing `limits`. Decodes no
/// pixels, so a decompression bomb is refused before anything large is allocated.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<SourceInfo, ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    let len = bytes.len() as u64;
    if len > limits.max_bytes {
        return Err(ImagingError::TooManyBytes { bytes: len, max: limits.max_bytes });
    }
    let format = SourceFormat::sniff(bytes).ok_or(ImagingError::UnsupportedFormat)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format.into())
        .into_dimensions()
        .map_err(ImagingError::from)?;
    limits.check_dimensions(width, height)?;
    Ok(SourceInfo { format, width, height, bytes: len })
}

/// Decodes `bytes` (after [`probe`]) and renders every variant.
pub fn render(
    bytes: &[u8],
    variants: &[VariantSpec],
    limits: &Limits,
) -> Result<(SourceInfo, Vec<Rendered>), ImagingError> {
    for variant in variants {
        variant.validate()?;
    }
    let info = probe(bytes, limits)?;
    let image = decode(bytes, &info, limits)?;
    let mut resizer = Resizer::new();
    let rendered = variants
        .iter()
        .map(|variant| render_one(&mut resizer, &image, variant))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((info, rendered))
}

/// Decodes to pixels in display orientation, normalised to 8-bit RGB or RGBA.
fn decode(bytes: &[u8], info: &SourceInfo, limits: &Limits) -> Result<DynamicImage, ImagingError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format.into());
    reader.limits(limits.decoder_limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(ImagingError::from)?;
    // A broken EXIF block is not worth refusing the image over: keep the stored orientation.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(ImagingError::from)?;
    image.apply_orientation(orientation);
    Ok(if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    })
}

fn render_one(
    resizer: &mut Resizer,
    source: &DynamicImage,
    variant: &VariantSpec,
) -> Result<Rendered, ImagingError> {
    let plan = plan(source.width(), source.height(), variant);
    // JPEG has no alpha: flatten onto white first so transparent areas don't turn black.
    let flattened;
    let source = if variant.format == OutputFormat::Jpeg && source.color().has_alpha() {
        flattened = flatten_on_white(source);
        &flattened
    } else {
        source
    };
    let mut target = DynamicImage::new(plan.width, plan.height, source.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(
            f64::from(plan.crop_x),
            f64::from(plan.crop_y),
            f64::from(plan.crop_width),
            f64::from(plan.crop_height),
        );
    resizer
        .resize(source, &mut target, &options)
        .map_err(|e| ImagingError::Resize(e.to_string()))?;
    let data = encode(&target, variant)?;
    Ok(Rendered {
        name: variant.name.clone(),
        width: plan.width,
        height: plan.height,
        format: variant.format,
        data,
    })
}

fn flatten_on_white(image: &DynamicImage) -> DynamicImage {
    let rgba = image.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(src[3]);
        for c in 0..3 {
            let blended = (u16::from(src[c]) * alpha + 255 * (255 - alpha) + 127) / 255;
            dst[c] = u8::try_from(blended).unwrap_or(u8::MAX);
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

fn encode(image: &DynamicImage, variant: &VariantSpec) -> Result<Vec<u8>, ImagingError> {
    let mut out = Vec::new();
    let result = match variant.format {
        OutputFormat::Jpeg => {
            image.write_with_encoder(JpegEncoder::new_with_quality(&mut out, variant.quality))
        }
        OutputFormat::Png => image.write_with_encoder(PngEncoder::new(&mut out)),
        OutputFormat::Webp => image.write_with_encoder(WebPEncoder::new_lossless(&mut out)),
    };
    result.map_err(|e| ImagingError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
