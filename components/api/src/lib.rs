//! The pixelbus HTTP API (`wasi:http/incoming-handler`) and the `pixelbus.jobs.submit`
//! subscriber (`wasmcloud:messaging/handler`, which also takes dead letters and, in a cloud
//! zone, the edge's done and failed events), one component.
//!
//! [`routes`] and [`submit`] decide what to do from plain values and test natively; `http.rs`
//! and the exports below are the wasi glue.

pub mod access;
pub mod body_timer;
pub mod gallery;
pub mod local;
pub mod routes;
pub mod submit;
pub mod upload;

#[cfg(target_family = "wasm")]
mod bindings {
    pixelbus_guest::component_bindings!("pixelbus:imaging/api");
}

#[cfg(target_family = "wasm")]
mod http;

#[cfg(target_family = "wasm")]
mod exports {
    use pixelbus_guest::bindings::wasmcloud::messaging::types::BrokerMessage;
    use pixelbus_guest::WasiPlatform;
    use pixelbus_jobs::pipeline::{give_up, record_from_zone};
    use pixelbus_jobs::{LogLevel, Platform, SUBJECT_DEAD, SUBJECT_DONE, SUBJECT_FAILED};

    use crate::bindings::exports::wasi::http::incoming_handler::Guest as HttpGuest;
    use crate::bindings::exports::wasmcloud::messaging::handler::Guest as MessagingGuest;
    use crate::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
    use crate::routes::{route, Reply};
    use crate::{http, submit};

    struct Api;

    impl HttpGuest for Api {
        fn handle(request: IncomingRequest, out: ResponseOutparam) {
            let platform = WasiPlatform::new("pixelbus-api");
            let settings = match platform.settings() {
                Ok(s) => s,
                Err(e) => {
                    platform.log(LogLevel::Error, &e.0);
                    return http::respond(out, Reply::error(500, "misconfigured", e.0));
                }
            };
            let platform = platform.with_work_subject(&settings.work_subject);
            let reply = match http::read_request(request, &settings) {
                Ok(req) => route(&platform, &settings, &req),
                Err(reply) => reply,
            };
            http::respond(out, reply);
        }
    }

    impl MessagingGuest for Api {
        fn handle_message(msg: BrokerMessage) -> Result<(), String> {
            let platform = WasiPlatform::new("pixelbus-api");
            if msg.subject == SUBJECT_DEAD {
                return give_up(&platform, &msg.body).map(|_| ());
            }
            // Another zone's done and failed events (deploy/cloud-edge/cloud.yaml links a stream
            // sourcing the edge's events here): its finished jobs are listed here too.
            if msg.subject == SUBJECT_DONE || msg.subject == SUBJECT_FAILED {
                return record_from_zone(&platform, &msg.body).map(|_| ());
            }
            let settings = platform.settings().map_err(|e| e.0)?;
            let platform = platform.with_work_subject(&settings.work_subject);
            let (reply, outcome) = submit::handle(&platform, &settings, &msg.body);
            if let Some(reply_to) = msg.reply_to.filter(|r| !r.is_empty()) {
                if let Err(e) = platform.publish(&reply_to, reply.to_string().as_bytes()) {
                    platform.log(LogLevel::Warn, &format!("could not reply to {reply_to}: {e}"));
                }
            }
            outcome
        }
    }

    crate::bindings::export!(Api with_types_in crate::bindings);
}
