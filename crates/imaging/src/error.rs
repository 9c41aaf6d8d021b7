use thiserror::Error;

/// Why an image could not be turned into variants. [`ImagingError::code`] is the stable,
/// machine-readable part that APIs put in their error bodies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ImagingError {
    #[error("the image is empty")]
    Empty,
    #[error("not a supported image (JPEG, PNG, GIF or WebP, judged from the bytes)")]
    UnsupportedFormat,
    #[error("image is {bytes} bytes, over the limit of {max}")]
    TooManyBytes { bytes: u64, max: u64 },
    #[error("image is {width}x{height}, over the limit of {max} px on a side")]
    TooWide { width: u32, height: u32, max: u32 },
    #[error("image is {width}x{height} ({pixels} px), over the limit of {max} pixels")]
    TooManyPixels { width: u32, height: u32, pixels: u64, max: u64 },
    /// The decoder refused the size the header declares before allocating it (on wasm32 the
    /// frame buffer of a huge header does not even fit the address space).
    #[error("the image declares more than the decoder will allocate: {0}")]
    OverDecoderLimit(String),
    #[error("the image data is invalid: {0}")]
    Invalid(String),
    #[error("invalid variant: {0}")]
    InvalidVariant(String),
    #[error("resize failed: {0}")]
    Resize(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl ImagingError {
    /// Stable error code: `empty`, `unsupported_media_type`, `too_large`, `invalid_image`,
    /// `invalid_variant` or `processing_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            ImagingError::Empty => "empty",
            ImagingError::UnsupportedFormat => "unsupported_media_type",
            ImagingError::TooManyBytes { .. }
            | ImagingError::TooWide { .. }
            | ImagingError::TooManyPixels { .. }
            | ImagingError::OverDecoderLimit(_) => "too_large",
            ImagingError::Invalid(_) => "invalid_image",
            ImagingError::InvalidVariant(_) => "invalid_variant",
            ImagingError::Resize(_) | ImagingError::Encode(_) => "processing_failed",
        }
    }

    /// The HTTP status an API answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            ImagingError::Empty | ImagingError::Invalid(_) | ImagingError::InvalidVariant(_) => 400,
            ImagingError::UnsupportedFormat => 415,
            ImagingError::TooManyBytes { .. } => 413,
            ImagingError::TooWide { .. } | ImagingError::TooManyPixels { .. } | ImagingError::OverDecoderLimit(_) => 422,
            ImagingError::Resize(_) | ImagingError::Encode(_) => 500,
        }
    }
}

impl From<image::ImageError> for ImagingError {
    /// A decoder's refusal to allocate is a size problem; anything else is bad data.
    fn from(e: image::ImageError) -> Self {
        match e {
            image::ImageError::Limits(limit) => ImagingError::OverDecoderLimit(limit.to_string()),
            other => ImagingError::Invalid(other.to_string()),
        }
    }
}
