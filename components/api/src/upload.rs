//! Getting the image out of an upload: a raw body (`--data-binary`) or the first file part of a
//! `multipart/form-data` body (`curl -F file=@photo.jpg`).

/// Why an upload body holds no image to work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    Empty,
    Multipart(&'static str),
}

impl UploadError {
    pub fn message(&self) -> String {
        match self {
            UploadError::Empty => "the upload is empty".to_string(),
            UploadError::Multipart(why) => format!("malformed multipart/form-data body: {why}"),
        }
    }
}

/// The multipart boundary from a `content-type` value, if it is multipart/form-data.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The bytes of the first part that carries a file (`filename=`), or else the first part.
pub fn multipart_file<'a>(body: &'a [u8], boundary: &str) -> Result<&'a [u8], UploadError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(UploadError::Multipart("bad boundary"));
    }
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0).ok_or(UploadError::Multipart("no boundary"))?;
    let mut first: Option<&[u8]> = None;
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            break; // closing delimiter
        }
        // The boundary line ends in CRLF, after optional transport padding (RFC 2046 5.1.1).
        let line_end = find(body, b"\r\n", pos).ok_or(UploadError::Multipart("truncated"))?;
        if !body[pos..line_end].iter().all(|&b| b == b' ' || b == b'\t') {
            return Err(UploadError::Multipart("text after a boundary on its line"));
        }
        let headers_start = line_end + 2;
        // A part may have no header lines at all: its blank line follows the boundary's.
        let (headers, data_start) = if body[headers_start..].starts_with(b"\r\n") {
            (String::new(), headers_start + 2)
        } else {
            let headers_end =
                find(body, b"\r\n\r\n", headers_start).ok_or(UploadError::Multipart("part without headers"))?;
            (String::from_utf8_lossy(&body[headers_start..headers_end]).to_ascii_lowercase(), headers_end + 4)
        };
        let data_end = find(body, next_delimiter.as_bytes(), data_start)
            .ok_or(UploadError::Multipart("part not terminated"))?;
        let data = &body[data_start..data_end];
        if headers.contains("filename=") {
            return Ok(data);
        }
        first.get_or_insert(data);
        pos = data_end + 2;
    }
    first.ok_or(UploadError::Multipart("no parts"))
}

/// The image bytes of an upload, given its content-type.
pub fn image_bytes<'a>(content_type: &str, body: &'a [u8]) -> Result<&'a [u8], UploadError> {
    let bytes = match multipart_boundary(content_type) {
        Some(boundary) => multipart_file(body, &boundary)?,
        None => body,
    };
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (headers, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
    }

    #[test]
    fn boundary_is_read_from_the_content_type() {
        assert_eq!(multipart_boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(multipart_boundary("Multipart/Form-Data; boundary=\"x y\"").as_deref(), Some("x y"));
        assert_eq!(multipart_boundary("image/jpeg"), None);
    }

    #[test]
    fn file_part_is_found_among_fields() {
        let data: &[u8] = b"\xff\xd8\xff binary \r\n with crlf";
        let body = form("XyZ", &[
            ("Content-Disposition: form-data; name=\"note\"", b"hello"),
            ("Content-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg", data),
        ]);
        assert_eq!(image_bytes("multipart/form-data; boundary=XyZ", &body), Ok(data));
    }

    #[test]
    fn raw_bodies_pass_through() {
        assert_eq!(image_bytes("image/png", b"abc"), Ok(&b"abc"[..]));
        assert_eq!(image_bytes("", b""), Err(UploadError::Empty));
    }

    #[test]
    fn a_part_without_headers_is_read() {
        let body = b"--B\r\n\r\nplain\r\n--B--\r\n";
        assert_eq!(image_bytes("multipart/form-data; boundary=B", body), Ok(&b"plain"[..]));
    }

    /// fuzz/regressions/upload/crash-f5b6c697…: a boundary followed by text on its line made
    /// the header range run backwards (a panic, so a trap in the component).
    #[test]
    fn text_after_a_boundary_is_an_error() {
        let body = b"--XyZ\rrm-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n";
        assert_eq!(
            image_bytes("multipart/form-data; boundary=XyZ", body),
            Err(UploadError::Multipart("text after a boundary on its line"))
        );
    }

    #[test]
    fn broken_forms_are_errors_not_panics() {
        let body = form("B", &[("Content-Disposition: form-data; name=\"file\"; filename=\"x\"", b"data")]);
        for cut in 0..body.len() {
            let _ = image_bytes("multipart/form-data; boundary=B", &body[..cut]);
        }
        assert!(matches!(image_bytes("multipart/form-data; boundary=B", b"garbage"), Err(UploadError::Multipart(_))));
        assert_eq!(
            image_bytes("multipart/form-data; boundary=B", &form("B", &[("Content-Disposition: form-data; name=\"file\"; filename=\"x\"", b"")])),
            Err(UploadError::Empty)
        );
    }
}
