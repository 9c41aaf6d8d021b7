#![no_main]
//! `scripts/fuzz --target upload`; the check is `pixelbus_fuzzing::upload`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pixelbus_fuzzing::upload(data));
