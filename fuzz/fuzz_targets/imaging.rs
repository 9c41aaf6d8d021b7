#![no_main]
//! `scripts/fuzz --target imaging`; the check is `pixelbus_fuzzing::imaging`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pixelbus_fuzzing::imaging(data));
