//! Imaging, native vs Wasm: the same library (`pixelbus-imaging`) rendering the default variants
//! of the same generated photos, called natively and as the `components/imaging` component in
//! wasmtime (in-process, a fresh instance per call from a pooling allocator that keeps linear
//! memory resident between instances, as the host does).

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use image::codecs::jpeg::JpegEncoder;
use pixelbus_imaging::{default_variants, Fit, Limits, OutputFormat, Rendered, VariantSpec};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::stats::median;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "pixelbus:imaging/imaging",
});

use pixelbus::imaging::types as wit;

/// One image size's result: medians in milliseconds per render (decode + 3 variants + encode).
pub struct ImagingRow {
    pub label: String,
    pub megapixels: f64,
    pub jpeg_bytes: usize,
    pub native_ms: f64,
    pub wasm_ms: f64,
}

/// A deterministic photo-like picture (smooth light, edges, texture and noise, so JPEG sizes
/// and decode work look like a camera's), encoded as a quality-90 JPEG.
pub fn photo_jpeg(width: u32, height: u32, seed: u32) -> anyhow::Result<Vec<u8>> {
    photo_jpeg_with_quality(width, height, seed, 90)
}

/// [`photo_jpeg`] at another JPEG quality (1–100): low qualities leave most blocks with a few
/// coefficients, high ones fill them.
pub fn photo_jpeg_with_quality(width: u32, height: u32, seed: u32, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut noise = seed.wrapping_mul(2_654_435_761) | 1;
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
        let sky = 1.0 - v;
        let hill = ((u * 9.0).sin() * 0.08 + 0.6 - v).signum() * 0.5 + 0.5;
        let texture = ((x as f32 * 0.21).sin() * (y as f32 * 0.17).cos()) * 18.0;
        let grain = (noise % 23) as f32 - 11.0;
        let channel = |base: f32| (base + texture + grain).clamp(0.0, 255.0) as u8;
        image::Rgb([
            channel(90.0 * sky + 60.0 * hill + 40.0 * u),
            channel(140.0 * sky + 110.0 * hill * (1.0 - v)),
            channel(220.0 * sky + 30.0 * hill),
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&picture)
        .context("encoding the generated photo")?;
    Ok(out)
}

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The imaging component, compiled once, instantiated per call.
pub struct WasmImaging {
    engine: Engine,
    pre: ImagingPre<Host>,
}

impl WasmImaging {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_with(path, false)
    }

    /// `perfmap`: wasmtime writes `/tmp/perf-PID.map`, so `perf report` names the compiled wasm
    /// functions (from the component's name section) instead of showing bare JIT addresses.
    pub fn load_with(path: &Path, perfmap: bool) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        // The host's instance allocation (wasmcloud-runtime with patches/wasmcloud-runtime.patch):
        // pooled slots, each keeping up to 64 MiB of what the last instance wrote resident, reset
        // with PAGEMAP_SCAN where the kernel has it (PIXELBUS_KEEP_RESIDENT_MIB's default).
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(4).total_core_instances(4).total_memories(4).total_tables(4);
        pool.max_memory_size(256 << 20);
        if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.linear_memory_keep_resident(64 << 20).pagemap_scan(wasmtime::Enabled::Yes);
        }
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        if perfmap {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).context("configuring wasmtime")?;
        let component = Component::from_file(&engine, path)
            .with_context(|| format!("loading {} (built by scripts/build)", path.display()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).context("linking WASI")?;
        let pre = ImagingPre::new(linker.instantiate_pre(&component).context("pre-instantiating")?)
            .context("the component does not have the imaging world's shape")?;
        Ok(WasmImaging { engine, pre })
    }

    /// One render of the default variants in a fresh instance; returns the variants' sizes.
    pub fn render(&self, jpeg: &[u8]) -> anyhow::Result<Vec<(u32, u32)>> {
        let rendered = self.render_variants(jpeg, &default_variants())?;
        Ok(rendered.iter().map(|r| (r.width, r.height)).collect())
    }

    /// One render of `variants` in a fresh instance; returns what the component encoded.
    pub fn render_variants(&self, jpeg: &[u8], variants: &[VariantSpec]) -> anyhow::Result<Vec<Rendered>> {
        let host = Host { wasi: WasiCtx::builder().build(), table: ResourceTable::new() };
        let mut store = Store::new(&self.engine, host);
        let imaging = self.pre.instantiate(&mut store).context("instantiating")?;
        let variants: Vec<wit::VariantSpec> = variants.iter().map(variant_to_wit).collect();
        let (_, rendered) = imaging
            .pixelbus_imaging_resize()
            .call_render(&mut store, jpeg, &variants)
            .context("calling render")?
            .map_err(|e| anyhow!("the component refused the image: {e}"))?;
        Ok(rendered
            .into_iter()
            .map(|r| Rendered {
                name: r.name,
                width: r.width,
                height: r.height,
                format: format_from_wit(r.format),
                data: r.data,
            })
            .collect())
    }
}

fn variant_to_wit(v: &VariantSpec) -> wit::VariantSpec {
    wit::VariantSpec {
        name: v.name.clone(),
        max_width: v.max_width,
        max_height: v.max_height,
        fit: match v.fit {
            Fit::Contain => wit::Fit::Contain,
            Fit::Cover => wit::Fit::Cover,
            Fit::Exact => wit::Fit::Exact,
        },
        format: match v.format {
            OutputFormat::Jpeg => wit::OutputFormat::Jpeg,
            OutputFormat::Png => wit::OutputFormat::Png,
            OutputFormat::Webp => wit::OutputFormat::Webp,
        },
        quality: v.quality,
    }
}

fn format_from_wit(format: wit::OutputFormat) -> OutputFormat {
    match format {
        wit::OutputFormat::Jpeg => OutputFormat::Jpeg,
        wit::OutputFormat::Png => OutputFormat::Png,
        wit::OutputFormat::Webp => OutputFormat::Webp,
    }
}

fn native_render(jpeg: &[u8]) -> anyhow::Result<Vec<(u32, u32)>> {
    let (_, rendered) = pixelbus_imaging::render(jpeg, &default_variants(), &Limits::default())?;
    Ok(rendered.iter().map(|r| (r.width, r.height)).collect())
}

/// Milliseconds a call takes.
fn time_ms(run: impl FnOnce() -> anyhow::Result<Vec<(u32, u32)>>) -> anyhow::Result<f64> {
    let start = Instant::now();
    run()?;
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// Which side `profile` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Native,
    Wasm,
}

/// The generated photos `run` measures (and `profile` picks from), with `run`'s repetitions.
struct Photo {
    label: &'static str,
    width: u32,
    height: u32,
    seed: u32,
    reps: usize,
}

const PHOTOS: [Photo; 3] = [
    Photo { label: "0.3 MP", width: 640, height: 480, seed: 1, reps: 15 },
    Photo { label: "2 MP", width: 1632, height: 1224, seed: 2, reps: 9 },
    Photo { label: "12 MP", width: 4000, height: 3000, seed: 3, reps: 5 },
];

/// Renders the photo of `run`'s closest to `megapixels` (0.3, 2 or 12) `reps` times on one side
/// only, for a profiler attached to this process (`scripts/profile-imaging`).
pub fn profile(wasm_path: &Path, side: Side, megapixels: f64, reps: usize) -> anyhow::Result<f64> {
    let distance = |photo: &Photo| (f64::from(photo.width) * f64::from(photo.height) / 1e6 - megapixels).abs();
    let photo = PHOTOS
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .context("no photos")?;
    let jpeg = photo_jpeg(photo.width, photo.height, photo.seed)?;
    let wasm = match side {
        Side::Wasm => Some(WasmImaging::load_with(wasm_path, true)?),
        Side::Native => None,
    };
    let render = || match &wasm {
        Some(wasm) => wasm.render(&jpeg),
        None => native_render(&jpeg),
    };
    // Warm-up outside the profile: first-touch page faults, lazy statics.
    render()?;
    let mut perf = PerfControl::from_env()?;
    perf.send("enable")?;
    let mut times = Vec::new();
    for _ in 0..reps {
        times.push(time_ms(render)?);
    }
    perf.send("disable")?;
    median(&times).context("no repetitions")
}

/// `perf record -D -1 --control fifo:CTL,ACK` started with events off: `PIXELBUS_PERF_CTL` and
/// `PIXELBUS_PERF_ACK` name those fifos, so only the renders are sampled (not generating the
/// photo or compiling the component).
struct PerfControl(Option<(std::fs::File, std::io::BufReader<std::fs::File>)>);

impl PerfControl {
    fn from_env() -> anyhow::Result<Self> {
        match (std::env::var_os("PIXELBUS_PERF_CTL"), std::env::var_os("PIXELBUS_PERF_ACK")) {
            (Some(ctl), Some(ack)) => Self::open(Path::new(&ctl), Path::new(&ack)),
            _ => Ok(PerfControl(None)),
        }
    }

    fn open(ctl: &Path, ack: &Path) -> anyhow::Result<Self> {
        let ctl = std::fs::OpenOptions::new()
            .write(true)
            .open(ctl)
            .with_context(|| format!("opening perf's control fifo {}", ctl.display()))?;
        let ack = std::fs::File::open(ack).with_context(|| format!("opening perf's ack fifo {}", ack.display()))?;
        Ok(PerfControl(Some((ctl, std::io::BufReader::new(ack)))))
    }

    fn send(&mut self, command: &str) -> anyhow::Result<()> {
        use std::io::{BufRead as _, Write as _};
        if let Some((ctl, ack)) = &mut self.0 {
            writeln!(ctl, "{command}").context("writing to perf's control fifo")?;
            let mut line = String::new();
            ack.read_line(&mut line).context("reading perf's ack")?;
        }
        Ok(())
    }
}

/// 0.3, 2 and 12 MP photos; native and wasm runs interleaved per size so drift hits both.
pub fn run(wasm_path: &Path, quick: bool) -> anyhow::Result<Vec<ImagingRow>> {
    let wasm = WasmImaging::load(wasm_path)?;
    let mut rows = Vec::new();
    for Photo { label, width, height, seed, reps } in PHOTOS {
        let reps = if quick { 2 } else { reps };
        let jpeg = photo_jpeg(width, height, seed)?;
        eprintln!("    imaging {label}: {width}x{height}, {} KiB JPEG, {reps} reps each", jpeg.len() / 1024);
        // Warm-up: page in code and data for both.
        let native_sizes = native_render(&jpeg)?;
        let wasm_sizes = wasm.render(&jpeg)?;
        anyhow::ensure!(native_sizes == wasm_sizes, "native and wasm disagree: {native_sizes:?} vs {wasm_sizes:?}");
        let (mut native, mut wasm_runs) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            native.push(time_ms(|| native_render(&jpeg))?);
            wasm_runs.push(time_ms(|| wasm.render(&jpeg))?);
        }
        let (native_ms, wasm_ms) = (median(&native).unwrap_or(f64::NAN), median(&wasm_runs).unwrap_or(f64::NAN));
        rows.push(ImagingRow {
            label: label.to_string(),
            megapixels: f64::from(width) * f64::from(height) / 1e6,
            jpeg_bytes: jpeg.len(),
            native_ms,
            wasm_ms,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, Write as _};

    /// The fifo protocol of `perf record --control fifo:CTL,ACK`: one command per line, and each
    /// waits for perf's `ack` line (so sampling is on before the first render starts).
    #[test]
    fn perf_control_sends_commands_and_waits_for_each_ack() {
        let dir = std::env::temp_dir().join(format!("pixelbus-perfctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ctl, ack) = (dir.join("ctl"), dir.join("ack"));
        for fifo in [&ctl, &ack] {
            let _ = std::fs::remove_file(fifo);
            let status = std::process::Command::new("mkfifo").arg(fifo).status().expect("mkfifo runs");
            assert!(status.success());
        }
        // Stands in for perf's end of the fifos.
        let perf = {
            let (ctl, ack) = (ctl.clone(), ack.clone());
            std::thread::spawn(move || {
                let commands = std::io::BufReader::new(std::fs::File::open(&ctl).unwrap());
                let mut acks = std::fs::OpenOptions::new().write(true).open(&ack).unwrap();
                let mut seen = Vec::new();
                for line in commands.lines() {
                    seen.push(line.unwrap());
                    writeln!(acks, "ack").unwrap();
                }
                seen
            })
        };
        let mut control = PerfControl::open(&ctl, &ack).expect("fifos open");
        control.send("enable").expect("enable acked");
        control.send("disable").expect("disable acked");
        drop(control);
        assert_eq!(perf.join().unwrap(), ["enable", "disable"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_perf_the_control_is_a_no_op() {
        let mut control = PerfControl(None);
        control.send("enable").expect("nothing to send to");
    }
}
