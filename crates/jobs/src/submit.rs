//! Parsing what arrives on `pixelbus.jobs.submit`: either raw image bytes, or JSON naming an
//! object already in the blobstore.
//!
//! ```json
//! { "source": "<object in pixelbus-originals>" | "<container>/<object>",
//!   "variants": [ { "name": "thumb", "max_width": 128, "max_height": 128 } ] }
//! ```

use pixelbus_imaging::{SourceFormat, VariantSpec};
use serde::Deserialize;
use thiserror::Error;

use crate::CONTAINER_ORIGINALS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitSource {
    /// The message body is the image.
    Inline(Vec<u8>),
    /// An object already stored.
    Stored { container: String, object: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    pub source: SubmitSource,
    /// `None`: the configured defaults.
    pub variants: Option<Vec<VariantSpec>>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("empty submit message")]
    Empty,
    #[error("submit body is neither a supported image nor JSON: {0}")]
    NotJson(String),
    #[error("invalid source {0:?}: {1}")]
    BadSource(String, &'static str),
    #[error("no variants requested")]
    NoVariants,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitJson {
    source: String,
    #[serde(default)]
    variants: Option<Vec<VariantSpec>>,
}

/// Blobstore container names: 1..=63 of `a-z 0-9 -`.
fn valid_container(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Object names: 1..=512 of `A-Z a-z 0-9 . _ - /`, no empty or dot-only segments.
fn valid_object(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && name.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

pub fn parse_submit(body: &[u8]) -> Result<SubmitRequest, SubmitError> {
    if body.is_empty() {
        return Err(SubmitError::Empty);
    }
    if SourceFormat::sniff(body).is_some() {
        return Ok(SubmitRequest { source: SubmitSource::Inline(body.to_vec()), variants: None });
    }
    let parsed: SubmitJson =
        serde_json::from_slice(body).map_err(|e| SubmitError::NotJson(e.to_string()))?;
    let (container, object) = match parsed.source.split_once('/') {
        Some((container, object)) if valid_container(container) => {
            (container.to_string(), object.to_string())
        }
        _ => (CONTAINER_ORIGINALS.to_string(), parsed.source.clone()),
    };
    if !valid_container(&container) {
        return Err(SubmitError::BadSource(parsed.source, "bad container name"));
    }
    if !valid_object(&object) {
        return Err(SubmitError::BadSource(
            parsed.source,
            "object names are 1-512 characters of A-Z a-z 0-9 . _ - / with no empty, '.' or '..' segments",
        ));
    }
    if parsed.variants.as_ref().is_some_and(Vec::is_empty) {
        return Err(SubmitError::NoVariants);
    }
    Ok(SubmitRequest {
        source: SubmitSource::Stored { container, object },
        variants: parsed.variants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_image_bytes_are_inline() {
        let png = b"\x89PNG\r\n\x1a\n rest of the file";
        let req = parse_submit(png).expect("parses");
        assert_eq!(req.source, SubmitSource::Inline(png.to_vec()));
        assert_eq!(req.variants, None);
    }

    #[test]
    fn bare_key_means_the_originals_container() {
        let req = parse_submit(br#"{"source":"photos/cat.jpg"}"#).expect("parses");
        // "photos" is a valid container name, so it is taken as one.
        assert_eq!(req.source, SubmitSource::Stored { container: "photos".into(), object: "cat.jpg".into() });
        let req = parse_submit(br#"{"source":"cat.jpg"}"#).expect("parses");
        assert_eq!(req.source, SubmitSource::Stored { container: CONTAINER_ORIGINALS.into(), object: "cat.jpg".into() });
    }

    #[test]
    fn variants_are_parsed() {
        let req = parse_submit(br#"{"source":"a","variants":[{"name":"x","max_width":10,"max_height":20}]}"#)
            .expect("parses");
        assert_eq!(req.variants.map(|v| v[0].max_height), Some(20));
        assert_eq!(parse_submit(br#"{"source":"a","variants":[]}"#), Err(SubmitError::NoVariants));
    }

    #[test]
    fn hostile_or_broken_messages_are_refused() {
        assert_eq!(parse_submit(b""), Err(SubmitError::Empty));
        assert!(matches!(parse_submit(b"hello"), Err(SubmitError::NotJson(_))));
        assert!(matches!(parse_submit(br#"{"source":"a","extra":1}"#), Err(SubmitError::NotJson(_))));
        for bad in ["../etc/passwd", "c/../x", "c//x", "/abs", "", "c/x y", "Bad_Container/x/.."] {
            let body = serde_json::json!({ "source": bad }).to_string();
            assert!(matches!(parse_submit(body.as_bytes()), Err(SubmitError::BadSource(..))), "{bad:?} accepted");
        }
    }
}
