//! The components' side of the platform: [`pixelbus_jobs::Platform`] implemented over the wasi
//! and wasmCloud interfaces the components import, plus their shared configuration.
//!
//! The bindings for the imports are generated here once; `components/api` and
//! `components/thumbnailer` map their imports onto them with wit-bindgen's `with`.

mod config;
pub use config::{Settings, SettingsError};

#[cfg(target_family = "wasm")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/guest-imports",
        generate_all,
    });
}

#[cfg(target_family = "wasm")]
mod wasi_platform;
#[cfg(target_family = "wasm")]
pub use wasi_platform::WasiPlatform;
