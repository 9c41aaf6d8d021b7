//! Does nothing, fast: the component the benchmarks put where a pipeline component would be, so
//! what they measure is the path to it (provider, wRPC, host), not its work.

#[cfg(target_family = "wasm")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/noop",
        generate_all,
    });
}

#[cfg(target_family = "wasm")]
mod exports {
    use crate::bindings::exports::wasi::http::incoming_handler::Guest as Http;
    use crate::bindings::exports::wasmcloud::messaging::handler::Guest as Messaging;
    use crate::bindings::wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
    use crate::bindings::wasmcloud::messaging::types::BrokerMessage;

    struct Noop;

    impl Messaging for Noop {
        fn handle_message(_msg: BrokerMessage) -> Result<(), String> {
            Ok(())
        }
    }

    impl Http for Noop {
        fn handle(_request: IncomingRequest, out: ResponseOutparam) {
            let response = OutgoingResponse::new(Fields::new());
            let Ok(body) = response.body() else { return };
            ResponseOutparam::set(out, Ok(response));
            if let Ok(stream) = body.write() {
                let _ = stream.blocking_write_and_flush(b"ok");
            }
            let _ = OutgoingBody::finish(body, None);
        }
    }

    crate::bindings::export!(Noop with_types_in crate::bindings);
}
