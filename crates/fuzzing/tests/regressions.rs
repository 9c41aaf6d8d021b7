//! Replays, under plain `cargo test`, every input `scripts/fuzz` kept in
//! `fuzz/regressions/<target>/` (crashes it found, fixed since) and the generated seeds, through
//! the same checks the fuzz targets run.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8]), seeds: Vec<(String, Vec<u8>)>) {
    for (name, bytes) in &seeds {
        if let Err(panic) = std::panic::catch_unwind(|| check(bytes)) {
            std::panic::resume_unwind(Box::new(format!("{target} seed {name}: {panic:?}")));
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions").join(target);
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) || path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target}: the regression case {} fails again", path.display());
        cases += 1;
    }
    println!("{target}: {} seed(s) and {cases} regression case(s) replayed", seeds.len());
}

#[test]
fn imaging_cases_still_pass() {
    replay("imaging", pixelbus_fuzzing::imaging, pixelbus_fuzzing::seed_images());
}

#[test]
fn job_message_cases_still_pass() {
    replay("job_messages", pixelbus_fuzzing::job_messages, pixelbus_fuzzing::seed_messages());
}

#[test]
fn upload_cases_still_pass() {
    replay("upload", pixelbus_fuzzing::upload, pixelbus_fuzzing::seed_uploads());
}
