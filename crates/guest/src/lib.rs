//! The components' side of the platform: [`pixelbus_jobs::Platform`] implemented over the wasi
//! and wasmCloud interfaces the components import, plus their shared configuration.
//!
//! The bindings for the imports are generated here once; `components/api` and
//! `components/thumbnailer` map their imports onto them with wit-bindgen's `with`.

mod config;
pub use config::{ApiToken, ReadAccess, Settings, SettingsError, MIN_TOKEN_CHARS};

mod output;
pub use output::{write_all, OutputSink};

#[cfg(target_family = "wasm")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/guest-imports",
        generate_all,
    });
}

/// Generates a pipeline component's bindings for `$world` (in `wit/`), with every import mapped
/// onto this crate's bindings, so [`WasiPlatform`] and the component share one set of types.
/// Call it from a crate two levels below the repository root (`components/<name>`).
#[macro_export]
macro_rules! component_bindings {
    ($world:literal) => {
        wit_bindgen::generate!({
            path: "../../wit",
            world: $world,
            with: {
                "wasi:io/error@0.2.6": ::pixelbus_guest::bindings::wasi::io::error,
                "wasi:io/poll@0.2.6": ::pixelbus_guest::bindings::wasi::io::poll,
                "wasi:io/streams@0.2.6": ::pixelbus_guest::bindings::wasi::io::streams,
                "wasi:random/random@0.2.6": ::pixelbus_guest::bindings::wasi::random::random,
                "wasi:blobstore/blobstore@0.2.0-draft": ::pixelbus_guest::bindings::wasi::blobstore::blobstore,
                "wasi:blobstore/container@0.2.0-draft": ::pixelbus_guest::bindings::wasi::blobstore::container,
                "wasi:blobstore/types@0.2.0-draft": ::pixelbus_guest::bindings::wasi::blobstore::types,
                "wasi:keyvalue/store@0.2.0-draft": ::pixelbus_guest::bindings::wasi::keyvalue::store,
                "wasmcloud:messaging/consumer@0.2.0": ::pixelbus_guest::bindings::wasmcloud::messaging::consumer,
                "wasmcloud:messaging/types@0.2.0": ::pixelbus_guest::bindings::wasmcloud::messaging::types,
                "wasi:config/store@0.2.0-draft": ::pixelbus_guest::bindings::wasi::config::store,
                "wasi:logging/logging@0.1.0-draft": ::pixelbus_guest::bindings::wasi::logging::logging,
            },
            generate_all,
        });
    };
}

#[cfg(target_family = "wasm")]
mod wasi_platform;
#[cfg(target_family = "wasm")]
pub use wasi_platform::WasiPlatform;
