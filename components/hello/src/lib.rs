//! Answers every HTTP request `200 ok` with a Content-Length. The HTTP section of the
//! benchmarks serves these same bytes through the lattice's HTTP server and through
//! `wasmtime serve`, so the ratio is the cost of the path, not of the component.

#[cfg(target_family = "wasm")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/hello",
        generate_all,
    });
}

#[cfg(target_family = "wasm")]
mod exports {
    use crate::bindings::exports::wasi::http::incoming_handler::Guest;
    use crate::bindings::wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

    const BODY: &[u8] = b"ok";

    struct Hello;

    impl Guest for Hello {
        fn handle(_request: IncomingRequest, out: ResponseOutparam) {
            let headers = Fields::new();
            let length = BODY.len().to_string();
            // Both servers then answer without chunked framing: the load generator reads alike.
            let _ = headers.set("content-length", &[length.into_bytes()]);
            let response = OutgoingResponse::new(headers);
            let Ok(body) = response.body() else { return };
            ResponseOutparam::set(out, Ok(response));
            if let Ok(stream) = body.write() {
                let _ = stream.blocking_write_and_flush(BODY);
            }
            let _ = OutgoingBody::finish(body, None);
        }
    }

    crate::bindings::export!(Hello with_types_in crate::bindings);
}
