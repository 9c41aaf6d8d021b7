//! The pixelbus thumbnailer: a `wasmcloud:messaging/handler` for `pixelbus.jobs.work`. All the
//! work is [`pixelbus_jobs::pipeline::process`]; this is the glue that hands it the platform.
//!
//! Returning `Err` asks the messaging provider to deliver the message again (a backend was
//! down); a job that cannot be rendered is marked failed and acknowledged.

#[cfg(target_family = "wasm")]
mod bindings {
    pixelbus_guest::component_bindings!("pixelbus:imaging/thumbnailer");
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
            #[cfg(feature = "trap-on-marker")]
            trap_on_marker(&platform, &msg.body);
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

    /// Test builds: a wasm `unreachable` (a trap, not an error return) when the job's original
    /// holds the marker. Lookups that fail are left to `process`.
    #[cfg(feature = "trap-on-marker")]
    fn trap_on_marker(platform: &WasiPlatform, body: &[u8]) {
        const MARKER: &[u8] = b"PIXELBUS-TRAP";
        let Ok(work) = serde_json::from_slice::<pixelbus_jobs::WorkMessage>(body) else { return };
        let Ok(Some(job)) = platform.get_job(&work.id) else { return };
        if let Ok(Some(original)) = platform.read_object(&job.original.container, &job.original.object) {
            if original.windows(MARKER.len()).any(|w| w == MARKER) {
                core::arch::wasm32::unreachable();
            }
        }
    }

    crate::bindings::export!(Thumbnailer with_types_in crate::bindings);
}
