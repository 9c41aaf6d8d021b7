//! Who may do what over HTTP: with an `api_token` configured, requests that change something
//! (upload, delete) must carry `Authorization: Bearer <token>`; reads too when `read_access` is
//! `token`. `/healthz`, the gallery page (`/`) and the in-browser page (`/local/…`) are always
//! open: probes and the pages that ask for the token must work without it.

use pixelbus_guest::{ReadAccess, Settings};

use crate::routes::Reply;

/// Ok when `method path` may go ahead with this `Authorization` header value; a 401 otherwise.
/// Checked from the request head, before any body is read.
pub fn authorize(settings: &Settings, method: &str, path: &str, authorization: Option<&str>) -> Result<(), Reply> {
    let Some(token) = &settings.api_token else {
        return Ok(());
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p).trim_end_matches('/');
    let reads = matches!(method, "GET" | "HEAD");
    // Only uploads (POST) and deletes change anything; any other method is refused by the
    // router (405) and needs no token to learn that.
    let changes = matches!(method, "POST" | "DELETE");
    if !reads && !changes {
        return Ok(());
    }
    if reads && (matches!(path, "" | "/healthz" | "/local") || path.starts_with("/local/")) {
        return Ok(());
    }
    if reads && settings.read_access == ReadAccess::Public {
        return Ok(());
    }
    let offered = authorization.and_then(bearer);
    match offered {
        Some(offered) if same(offered.as_bytes(), token.as_str().as_bytes()) => Ok(()),
        Some(_) => Err(unauthorized("the bearer token is not this API's token")),
        None if authorization.is_some() => Err(unauthorized("the Authorization header is not `Bearer <token>`")),
        None => Err(unauthorized(if reads {
            "reading needs a bearer token here (Authorization: Bearer <token>)"
        } else {
            "uploads and deletes need a bearer token (Authorization: Bearer <token>)"
        })),
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized(message: &str) -> Reply {
    let mut reply = Reply::error(401, "unauthorized", message);
    reply.headers.push(("www-authenticate".into(), "Bearer realm=\"pixelbus\"".into()));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cr3t-t0ken-0123456789";

    fn settings(read_access: &str) -> Settings {
        Settings::from_pairs([("api_token", TOKEN), ("read_access", read_access)]).expect("valid settings")
    }

    fn status(settings: &Settings, method: &str, path: &str, authorization: Option<&str>) -> u16 {
        match authorize(settings, method, path, authorization) {
            Ok(()) => 200,
            Err(reply) => {
                assert!(reply.headers.iter().any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer")), "{reply:?}");
                let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON body");
                assert_eq!(body["error"]["code"], "unauthorized");
                reply.status
            }
        }
    }

    #[test]
    fn without_a_token_everything_is_open() {
        let open = Settings::from_pairs([]).expect("defaults");
        for (method, path) in [("POST", "/images"), ("DELETE", "/images/x"), ("GET", "/images")] {
            assert_eq!(status(&open, method, path, None), 200, "{method} {path}");
        }
    }

    #[test]
    fn uploads_and_deletes_need_the_token() {
        let s = settings("public");
        let good = format!("Bearer {TOKEN}");
        for (method, path) in [("POST", "/images"), ("DELETE", "/images/01ABC")] {
            assert_eq!(status(&s, method, path, None), 401, "{method} {path} without a token");
            assert_eq!(status(&s, method, path, Some("Bearer wrong-token-0123456789")), 401, "{method} {path} wrong token");
            assert_eq!(status(&s, method, path, Some(&format!("Bearer {TOKEN}x"))), 401, "a longer token is not the token");
            assert_eq!(status(&s, method, path, Some(TOKEN)), 401, "no scheme");
            assert_eq!(status(&s, method, path, Some(&format!("Basic {TOKEN}"))), 401, "another scheme");
            assert_eq!(status(&s, method, path, Some(&good)), 200, "{method} {path} with the token");
            assert_eq!(status(&s, method, path, Some(&format!("bearer  {TOKEN} "))), 200, "scheme case and spaces");
        }
        assert_eq!(status(&s, "GET", "/images?limit=5", None), 200, "reads stay public by default");
        assert_eq!(status(&s, "PUT", "/images", None), 200, "a method nothing accepts goes on to the router's 405");
    }

    #[test]
    fn token_gated_reads_leave_health_and_the_page_open() {
        let s = settings("token");
        for path in ["/images", "/images/01ABC", "/images/01ABC/thumb", "/images/01ABC/original"] {
            assert_eq!(status(&s, "GET", path, None), 401, "GET {path}");
            assert_eq!(status(&s, "GET", path, Some(&format!("Bearer {TOKEN}"))), 200, "GET {path} with the token");
        }
        for path in ["/", "/healthz", "/healthz/", "/local/", "/local/imaging.core.wasm"] {
            assert_eq!(status(&s, "GET", path, None), 200, "GET {path}");
        }
        assert_eq!(status(&s, "POST", "/healthz", None), 401, "only reads of /healthz are open");
    }
}
