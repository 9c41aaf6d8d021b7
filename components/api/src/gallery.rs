//! `GET /`: a small page that lists jobs and uploads images, served by the component itself
//! (no CDN, works offline).

use crate::routes::Reply;

const PAGE: &str = include_str!("gallery.html");

pub fn page() -> Reply {
    Reply { status: 200, content_type: "text/html; charset=utf-8", headers: Vec::new(), body: PAGE.as_bytes().to_vec() }
}
