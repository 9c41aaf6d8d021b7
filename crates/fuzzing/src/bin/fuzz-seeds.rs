//! `fuzz-seeds <corpus dir>`: writes the generated seed inputs of each fuzz target into
//! `<corpus dir>/<target>/` (scripts/fuzz adds the test photos to the imaging seeds).

use std::path::PathBuf;

fn main() -> Result<(), String> {
    let dir: PathBuf = std::env::args_os().nth(1).ok_or("usage: fuzz-seeds <corpus dir>")?.into();
    let targets = [
        ("imaging", pixelbus_fuzzing::seed_images()),
        ("job_messages", pixelbus_fuzzing::seed_messages()),
        ("upload", pixelbus_fuzzing::seed_uploads()),
    ];
    for (target, seeds) in targets {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir).map_err(|e| format!("cannot create {}: {e}", target_dir.display()))?;
        for (name, bytes) in &seeds {
            let path = target_dir.join(format!("seed-{name}"));
            std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        println!("{target}: {} seed(s) in {}", seeds.len(), target_dir.display());
    }
    Ok(())
}
