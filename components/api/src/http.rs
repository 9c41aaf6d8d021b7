//! wasi:http plumbing: reading a request (with the body limit enforced while reading) and
//! writing a [`Reply`].

use crate::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::access::authorize;
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::body_timer::{next_wait, Wait};
use crate::routes::{max_body_bytes, Reply, Request};
use pixelbus_guest::Settings;
use pixelbus_guest::bindings::wasi::io::poll::poll;
use pixelbus_guest::bindings::wasi::io::streams::StreamError;

const READ_CHUNK: u64 = 64 * 1024;

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    }
}

fn header(headers: &Fields, name: &str) -> Option<String> {
    headers.get(name).first().map(|v| String::from_utf8_lossy(v).into_owned())
}

fn too_large(max: u64) -> Reply {
    Reply::error(413, "too_large", format!("request body is over the limit of {max} bytes"))
}

/// Reads the request. A request the token settings refuse is answered from its head (401),
/// its body unread. Bodies are read only for methods that carry one, and reading stops (413) as
/// soon as the limit is passed; a declared content-length over it is refused unread.
pub fn read_request(request: IncomingRequest, settings: &Settings) -> Result<Request, Reply> {
    let max_body = max_body_bytes(settings);
    let method = method_name(request.method());
    let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let headers = request.headers();
    let content_type = header(&headers, "content-type").unwrap_or_default();
    let if_none_match = header(&headers, "if-none-match");
    let authorization = header(&headers, "authorization");
    authorize(settings, &method, &path, authorization.as_deref())?;
    let mut body = Vec::new();
    if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        let declared = header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared {
            if len > max_body {
                return Err(too_large(max_body));
            }
        }
        drop(headers);
        let incoming = request
            .consume()
            .map_err(|()| Reply::error(400, "bad_request", "request body unreadable"))?;
        let stream = incoming
            .stream()
            .map_err(|()| Reply::error(400, "bad_request", "request body unreadable"))?;
        // Non-blocking reads, waiting on the body or a timer: a stalled or dripping client is
        // answered 408 instead of holding this instance for as long as it likes.
        let readable = stream.subscribe();
        let started = monotonic_clock::now();
        let mut last_byte = started;
        loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => {
                    let now = monotonic_clock::now();
                    let idle = settings.body_idle_timeout_ms;
                    match next_wait(now.saturating_sub(started), now.saturating_sub(last_byte), idle, settings.body_deadline_ms) {
                        Wait::Upto(ns) => {
                            let timer = monotonic_clock::subscribe_duration(ns);
                            poll(&[&readable, &timer]);
                        }
                        Wait::TimedOut(reason) => return Err(Reply::error(408, "request_timeout", reason)),
                    }
                }
                Ok(chunk) => {
                    last_byte = monotonic_clock::now();
                    body.extend_from_slice(&chunk);
                    if body.len() as u64 > max_body {
                        return Err(too_large(max_body));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Reply::error(400, "bad_request", format!("reading the body failed: {}", e.to_debug_string())));
                }
            }
        }
        if let Some(len) = declared.filter(|len| *len != body.len() as u64) {
            return Err(Reply::error(400, "bad_request", format!("the body ended after {} of its {len} bytes", body.len())));
        }
    }
    Ok(Request { method, path, content_type, if_none_match, body })
}

/// Writes `reply` as the response. A failure here means the client went away: nothing to do.
pub fn respond(out: ResponseOutparam, reply: Reply) {
    let mut header_list: Vec<(String, Vec<u8>)> = vec![
        ("content-type".to_string(), reply.content_type.as_bytes().to_vec()),
        ("content-length".to_string(), reply.body.len().to_string().into_bytes()),
    ];
    header_list.extend(reply.headers.into_iter().map(|(n, v)| (n, v.into_bytes())));
    let headers = Fields::from_list(&header_list).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    if response.set_status_code(reply.status).is_err() {
        let _ = response.set_status_code(500);
    }
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        // An error: the client went away.
        let _ = pixelbus_guest::write_all(&stream, &reply.body);
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}
