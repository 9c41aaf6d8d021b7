#![no_main]
//! `scripts/fuzz --target job_messages`; the check is `pixelbus_fuzzing::job_messages`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pixelbus_fuzzing::job_messages(data));
