//! The pixelbus thumbnailer: a `wasmcloud:messaging/handler` for `pixelbus.jobs.work`. All the
//! work is [`pixelbus_jobs::pipeline::process`]; this is the glue that hands it the platform.
//!
//! Returning `Err` asks the messaging provider to deliver the message again (a backend was
//! down); a job that cannot be rendered is marked failed and acknowledged.

#[cfg(target_family = "wasm")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/thumbnailer",
        with: {
            "wasi:io/error@0.2.6": pixelbus_guest::bindings::wasi::io::error,
            "wasi:io/poll@0.2.6": pixelbus_guest::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.6": pixelbus_guest::bindings::wasi::io::streams,
            "wasi:random/random@0.2.6": pixelbus_guest::bindings::wasi::random::random,
            "wasi:blobstore/blobstore@0.2.0-draft": pixelbus_guest::bindings::wasi::blobstore::blobstore,
            "wasi:blobstore/container@0.2.0-draft": pixelbus_guest::bindings::wasi::blobstore::container,
            "wasi:blobstore/types@0.2.0-draft": pixelbus_guest::bindings::wasi::blobstore::types,
            "wasi:keyvalue/store@0.2.0-draft": pixelbus_guest::bindings::wasi::keyvalue::store,
            "wasmcloud:messaging/consumer@0.2.0": pixelbus_guest::bindings::wasmcloud::messaging::consumer,
            "wasmcloud:messaging/types@0.2.0": pixelbus_guest::bindings::wasmcloud::messaging::types,
            "wasi:config/store@0.2.0-draft": pixelbus_guest::bindings::wasi::config::store,
            "wasi:logging/logging@0.1.0-draft": pixelbus_guest::bindings::wasi::logging::logging,
        },
        generate_all,
    });
}

#[cfg(target_family = "wasm")]
mod exports {
    use pixelbus_guest::bindings::wasmcloud::messaging::types::BrokerMessage;
    use pixelbus_guest::WasiPlatform;
    use pixelbus_jobs::pipeline::{process, Outcome};
    use pixelbus_jobs::{LogLevel, Platform};

    use crate::bindings::exports::wasmcloud::messaging::handler::Guest;

    struct Thumbnailer;

    impl Guest for Thumbnailer {
        fn handle_message(msg: BrokerMessage) -> Result<(), String> {
            let platform = WasiPlatform::new("pixelbus-thumbnailer");
            let settings = platform.settings().map_err(|e| e.0)?;
            match process(&platform, &msg.body, &settings.limits, settings.max_attempts) {
                Ok(Outcome::Done) => Ok(()),
                Ok(Outcome::Failed(why)) => {
                    platform.log(LogLevel::Warn, &format!("job failed: {why}"));
                    Ok(())
                }
                Ok(Outcome::Skipped(why)) => {
                    platform.log(LogLevel::Debug, why);
                    Ok(())
                }
                Err(e) => {
                    platform.log(LogLevel::Error, &format!("will retry: {e}"));
                    Err(e)
                }
            }
        }
    }

    crate::bindings::export!(Thumbnailer with_types_in crate::bindings);
}
