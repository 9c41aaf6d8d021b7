//! The browser side, in Debian's chromium driven by playwright-core (both installed by
//! `scripts/setup`; a missing browser fails these cases, it never skips them): the gallery at
//! `/` and the in-tab imaging at `/local/`. The scripts live in `tests/browser/`; screenshots are
//! kept in `build/artifacts/browser/`.

use std::process::Command;

use anyhow::{ensure, Context as _};
use pixelbus_e2e::{api_token, pixelbus_home, repo_root, Lattice};

fn node_test(lattice: &Lattice, script: &str) -> anyhow::Result<()> {
    let root = repo_root();
    let node_dir = pixelbus_home().join("node");
    ensure!(
        node_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {} (scripts/setup installs it)",
        node_dir.display()
    );
    let chromium = std::env::var("PIXELBUS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    ensure!(std::path::Path::new(&chromium).is_file(), "{chromium} is missing (scripts/setup installs Debian's chromium)");
    let photos = ["coffee.jpg", "camera.png"]
        .map(|p| root.join("crates/imaging/tests/photos").join(p).display().to_string())
        .join(":");
    let artifacts = root.join("build/artifacts/browser");
    let started = std::time::Instant::now();
    let out = Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .env("PIXELBUS_BASE_URL", lattice.base_url())
        .env("PIXELBUS_API_TOKEN", api_token().context("the lattice has no API token")?)
        .env("PIXELBUS_NODE", &node_dir)
        .env("PIXELBUS_CHROMIUM", &chromium)
        .env("PIXELBUS_PHOTOS", photos)
        .env("PIXELBUS_ARTIFACTS", &artifacts)
        .env("PIXELBUS_IMAGING_WASM", root.join("build/imaging.wasm"))
        .output()
        .context("failed to run node")?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "tests/browser/{script} failed ({}) after {:?}", out.status, started.elapsed());
    Ok(())
}

/// Token prompt, two photos and a text file uploaded at once, two thumbnails and one plain
/// error, a variant opened, keyboard use, one job deleted; screenshots kept.
pub fn gallery_in_chromium(lattice: &Lattice) -> anyhow::Result<()> {
    node_test(lattice, "gallery.mjs")
}

/// `/local/` resizes in the tab with nothing sent, at the right sizes, and renders a lattice
/// job's variants byte for byte as the thumbnailer did.
pub fn local_resize_in_the_tab(lattice: &Lattice) -> anyhow::Result<()> {
    node_test(lattice, "local.mjs")
}
