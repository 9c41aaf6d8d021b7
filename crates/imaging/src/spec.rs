use image::ImageFormat;
use serde::{Deserialize, Serialize};

use crate::ImagingError;

/// Formats accepted as input, sniffed from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl SourceFormat {
    /// The format the bytes really are, or `None` for anything we don't accept.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match image::guess_format(bytes).ok()? {
            ImageFormat::Jpeg => Some(Self::Jpeg),
            ImageFormat::Png => Some(Self::Png),
            ImageFormat::Gif => Some(Self::Gif),
            ImageFormat::WebP => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::Webp => "webp",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }
}

impl From<SourceFormat> for ImageFormat {
    fn from(f: SourceFormat) -> Self {
        match f {
            SourceFormat::Jpeg => ImageFormat::Jpeg,
            SourceFormat::Png => ImageFormat::Png,
            SourceFormat::Gif => ImageFormat::Gif,
            SourceFormat::Webp => ImageFormat::WebP,
        }
    }
}

/// How the source is fitted into a variant's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Inside the box, aspect ratio kept, never enlarged.
    #[default]
    Contain,
    /// Fills the box, aspect ratio kept, overflow cropped around the centre, never enlarged.
    Cover,
    /// Exactly the box, stretched if need be.
    Exact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Jpeg,
    Png,
    /// Lossless WebP.
    Webp,
}

impl OutputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// One requested output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantSpec {
    pub name: String,
    pub max_width: u32,
    pub max_height: u32,
    #[serde(default)]
    pub fit: Fit,
    #[serde(default)]
    pub format: OutputFormat,
    #[serde(default = "default_quality")]
    pub quality: u8,
}

fn default_quality() -> u8 {
    82
}

/// Largest box side a variant may ask for.
pub const MAX_VARIANT_SIDE: u32 = 4096;

impl VariantSpec {
    pub fn new(name: &str, max_side: u32) -> Self {
        VariantSpec {
            name: name.to_string(),
            max_width: max_side,
            max_height: max_side,
            fit: Fit::Contain,
            format: OutputFormat::Jpeg,
            quality: default_quality(),
        }
    }

    /// Names are used in URLs and storage keys: 1..=32 of `a-z 0-9 - _`, and not `original`.
    pub fn validate(&self) -> Result<(), ImagingError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ImagingError::InvalidVariant(format!(
                "name {:?} must be 1-32 characters of a-z, 0-9, '-' or '_'",
                self.name
            )));
        }
        if self.name == "original" {
            return Err(ImagingError::InvalidVariant("'original' is reserved".into()));
        }
        for (what, side) in [("max_width", self.max_width), ("max_height", self.max_height)] {
            if side == 0 || side > MAX_VARIANT_SIDE {
                return Err(ImagingError::InvalidVariant(format!(
                    "{}: {what} {side} must be 1..={MAX_VARIANT_SIDE}",
                    self.name
                )));
            }
        }
        if !(1..=100).contains(&self.quality) {
            return Err(ImagingError::InvalidVariant(format!(
                "{}: quality {} must be 1..=100",
                self.name, self.quality
            )));
        }
        Ok(())
    }
}

/// The default variants: `thumb` 128, `small` 480, `medium` 1024 (JPEG, contain).
pub fn default_variants() -> Vec<VariantSpec> {
    vec![
        VariantSpec::new("thumb", 128),
        VariantSpec::new("small", 480),
        VariantSpec::new("medium", 1024),
    ]
}

/// Input limits, checked from the header before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_dimension: u32,
}

impl Default for Limits {
    /// 25 MiB, 50 megapixels, 16384 px on a side.
    fn default() -> Self {
        Limits { max_bytes: 25 * 1024 * 1024, max_pixels: 50_000_000, max_dimension: 16_384 }
    }
}

impl Limits {
    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<(), ImagingError> {
        if width == 0 || height == 0 {
            return Err(ImagingError::Invalid(format!("image is {width}x{height}")));
        }
        if width > self.max_dimension || height > self.max_dimension {
            return Err(ImagingError::TooWide { width, height, max: self.max_dimension });
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(ImagingError::TooManyPixels { width, height, pixels, max: self.max_pixels });
        }
        Ok(())
    }

    /// The same limits handed to the decoders, as a second line of defence (a file whose
    /// frames claim more than its header, say).
    pub(crate) fn decoder_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_dimension);
        limits.max_image_height = Some(self.max_dimension);
        // Room for the decoded image at 16-bit RGBA plus the 8-bit conversion.
        limits.max_alloc = Some(self.max_pixels.saturating_mul(12));
        limits
    }
}
