//! `pixelbus-bench`: every figure measured next to its baseline in the same run, medians over
//! repetitions. Run it through `scripts/bench`, which builds the components, brings up the
//! benchmark lattice for the messaging section and writes BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;
use clap::Parser;
use pixelbus_bench::report::{self, Better, Ratio};
use pixelbus_bench::{coldstart, http, imaging, memory, messaging, pipeline, providers};

#[derive(Parser)]
#[command(about = "pixelbus benchmarks: ratios against baselines measured in the same run")]
struct Args {
    /// Sections to run, comma-separated: imaging, providers, messaging, pipeline (with memory),
    /// http, coldstart.
    #[arg(long, value_delimiter = ',', default_value = "imaging,providers,messaging,pipeline,http,coldstart")]
    only: Vec<String>,
    /// Fewer repetitions and smaller counts: a smoke run, not figures to quote.
    #[arg(long)]
    quick: bool,
    /// The imaging component (components/imaging, built by scripts/build).
    #[arg(long, default_value = "build/imaging.wasm")]
    imaging_wasm: PathBuf,
    /// Instead of the sections: render one photo on one side only, --profile-reps times, for a
    /// profiler attached to this process (scripts/profile-imaging). The wasm side has wasmtime
    /// write a perf map so the profile names the compiled wasm functions.
    #[arg(long, value_enum)]
    profile_imaging: Option<imaging::Side>,
    /// The photo's size for --profile-imaging: 0.3, 2 or 12 megapixels.
    #[arg(long, default_value_t = 12.0)]
    profile_megapixels: f64,
    #[arg(long, default_value_t = 20)]
    profile_reps: usize,
    /// NATS of a lattice running bench/noop.yaml (the messaging section needs it).
    #[arg(long)]
    lattice_nats: Option<String>,
    /// NATS of a lattice running wadm.yaml (the pipeline section needs it and --pipeline-http).
    #[arg(long)]
    pipeline_nats: Option<String>,
    /// HTTP address of that lattice's api.
    #[arg(long)]
    pipeline_http: Option<String>,
    /// File holding that lattice's API token (scripts/up writes one per lattice).
    #[arg(long)]
    pipeline_token_file: Option<PathBuf>,
    /// wash's pid file for that lattice's host (`$PIXELBUS_STATE/wash/wasmcloud.pid`): the
    /// pipeline section then measures the memory of the host and its provider processes.
    #[arg(long)]
    pipeline_host_pid_file: Option<PathBuf>,
    /// Pid files of that lattice's other processes (`NAME=FILE`, e.g.
    /// `nats-server=$PIXELBUS_STATE/wash/nats.pid`), whose CPU time the pipeline section counts.
    #[arg(long = "pipeline-pid-file", value_name = "NAME=FILE")]
    pipeline_pid_files: Vec<String>,
    /// That lattice's name, and the manifest `scripts/up` rendered and deployed on it, with its
    /// app name (the coldstart section deletes and deploys it again).
    #[arg(long)]
    pipeline_lattice: Option<String>,
    #[arg(long)]
    pipeline_manifest: Option<PathBuf>,
    #[arg(long)]
    pipeline_app: Option<String>,
    /// That lattice's host compile cache (`PIXELBUS_COMPILE_CACHE_DIR`): the coldstart section
    /// also deploys with it emptied.
    #[arg(long)]
    pipeline_compile_cache: Option<PathBuf>,
    /// HTTP address of the lattice running bench/noop.yaml (components/hello behind the built-in
    /// HTTP server; the http section needs it).
    #[arg(long)]
    lattice_http: Option<String>,
    /// `wasmtime` (wasmtime-cli) for the http section's `wasmtime serve`.
    #[arg(long, default_value = "wasmtime")]
    wasmtime: PathBuf,
    /// The component both sides of the http section serve (components/hello).
    #[arg(long, default_value = "build/hello.wasm")]
    hello_wasm: PathBuf,
    /// The benchmark lattice's name and the rendered bench/noop.yaml `scripts/up` deployed on it:
    /// the coldstart section also times a deploy of that small app (components/hello).
    #[arg(long)]
    lattice_name: Option<String>,
    #[arg(long)]
    lattice_manifest: Option<PathBuf>,
    #[arg(long)]
    lattice_app: Option<String>,
    #[arg(long)]
    lattice_compile_cache: Option<PathBuf>,
    /// The pipeline's components, whose compile time the coldstart section measures.
    #[arg(long, value_delimiter = ',', default_value = "build/api.wasm,build/thumbnailer.wasm")]
    pipeline_components: Vec<PathBuf>,
    /// Where the http section writes `wasmtime serve`'s log.
    #[arg(long, default_value = "target")]
    log_dir: PathBuf,
    /// Markdown report to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// SVG plot of the ratios to write.
    #[arg(long, default_value = "docs/benchmarks.svg")]
    svg: PathBuf,
    /// The command line to print in the report as "how to reproduce".
    #[arg(long, default_value = "scripts/bench")]
    command: String,
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({cpu}), {mem_gib:.1} GiB memory")
}

fn version_of(program: &str, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("{program}: not found"))
}

/// The port of a `nats://host:port` or `http://host:port` address.
fn port_of(url: &str) -> anyhow::Result<u16> {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest).trim_end_matches('/');
    let port = authority.rsplit_once(':').with_context(|| format!("no port in {url}"))?.1;
    port.parse().with_context(|| format!("bad port in {url}"))
}

/// A lattice `scripts/bench` brought up on 127.0.0.1, as the coldstart section deploys to it.
fn local_deployment(
    lattice: &str,
    nats: &str,
    http: &str,
    manifest: &std::path::Path,
    app: &str,
    compile_cache: &Option<PathBuf>,
) -> anyhow::Result<coldstart::Deployment> {
    Ok(coldstart::Deployment {
        lattice: lattice.to_string(),
        nats_port: port_of(nats)?,
        http: std::net::SocketAddr::from(([127, 0, 0, 1], port_of(http)?)),
        manifest: manifest.to_path_buf(),
        app: app.to_string(),
        compile_cache: compile_cache.clone(),
    })
}

/// The pipeline lattice as its sections use it (its API token read from its file).
fn pipeline_target(args: &Args, nats: &str, http: &str) -> anyhow::Result<pipeline::Target> {
    let token = match &args.pipeline_token_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the API token from {}", file.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let host_pid = args.pipeline_host_pid_file.as_deref().map(memory::pid_from_file).transpose()?;
    let mut others = Vec::with_capacity(args.pipeline_pid_files.len());
    for named in &args.pipeline_pid_files {
        let (name, file) = named.split_once('=').with_context(|| format!("--pipeline-pid-file {named:?}: not NAME=FILE"))?;
        others.push(memory::Process { pid: memory::pid_from_file(std::path::Path::new(file))?, name: name.to_string() });
    }
    Ok(pipeline::Target { http: http.to_string(), nats: nats.to_string(), token, host_pid, others })
}

fn main() -> anyhow::Result<()> {
    // The native side of the memory figures runs in a process of its own (see pipeline.rs).
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some(pipeline::NATIVE_PEAK_ARG) {
        let jobs = raw.get(2).and_then(|n| n.parse().ok()).context("--native-peak-jobs needs a job count")?;
        return pipeline::native_peak_here(jobs);
    }
    let args = Args::parse();
    if let Some(side) = args.profile_imaging {
        let ms = imaging::profile(&args.imaging_wasm, side, args.profile_megapixels, args.profile_reps)?;
        eprintln!("{side:?}: {ms:.1} ms median per render of {} MP, {} reps", args.profile_megapixels, args.profile_reps);
        return Ok(());
    }
    let wants = |section: &str| args.only.iter().any(|s| s == section);
    let runtime = tokio::runtime::Runtime::new()?;
    let mut ratios = Vec::new();
    let mut details = String::new();

    if wants("imaging") {
        eprintln!("==> imaging: native vs wasm32-wasip2 in wasmtime");
        let rows = imaging::run(&args.imaging_wasm, args.quick)?;
        let _ = writeln!(details, "\n## Imaging, native vs Wasm\n");
        let _ = writeln!(
            details,
            "`pixelbus-imaging` rendering the default variants (thumb 128, small 480, medium 1024; Lanczos3; JPEG) of generated \
             photos: natively, and as `components/imaging` (wasm32-wasip2) in wasmtime 38, a fresh instance per call as the host \
             makes them (pooled, linear memory kept resident between instances: patches/wasmcloud-runtime.patch), bytes copied across the WIT boundary included. Median ms per image.\n"
        );
        let _ = writeln!(details, "| Image | JPEG | native ms | wasm ms | wasm/native |\n|---|---:|---:|---:|---:|");
        for row in &rows {
            let _ = writeln!(
                details,
                "| {} ({:.1} MP) | {} KiB | {:.1} | {:.1} | {:.2}x |",
                row.label,
                row.megapixels,
                row.jpeg_bytes / 1024,
                row.native_ms,
                row.wasm_ms,
                row.wasm_ms / row.native_ms
            );
            ratios.push(Ratio {
                section: "imaging",
                figure: format!("wasm/native time, {}", row.label),
                baseline: format!("{:.1} ms", row.native_ms),
                measured: format!("{:.1} ms", row.wasm_ms),
                ratio: row.wasm_ms / row.native_ms,
                better: Better::Lower,
                target: Some(1.3),
            });
        }
    }

    if wants("providers") {
        eprintln!("==> providers: keyvalue-nats and blobstore-nats vs the raw NATS client");
        let rows = runtime.block_on(providers::run(args.quick))?;
        let _ = writeln!(details, "\n## Storage providers vs the raw NATS client\n");
        let _ = writeln!(
            details,
            "One nats-server (JetStream, file storage) for the run. Each provider is driven in-process through the handler \
             the host's wRPC calls land on; the raw side is async-nats doing the same operations on the same bucket. \
             KV: 16 requests in flight; blobs: 4 in flight, written in 64 KiB pieces.\n"
        );
        let _ = writeln!(details, "| Operation | raw async-nats | provider | provider/raw |\n|---|---:|---:|---:|");
        for row in &rows {
            let _ = writeln!(
                details,
                "| {} | {:.0} {unit} | {:.0} {unit} | {:.2}x |",
                row.what,
                row.raw,
                row.provider,
                row.provider / row.raw,
                unit = row.unit
            );
            ratios.push(Ratio {
                section: "providers",
                figure: row.what.clone(),
                baseline: format!("{:.0} {}", row.raw, row.unit),
                measured: format!("{:.0} {}", row.provider, row.unit),
                ratio: row.provider / row.raw,
                better: Better::Higher,
                target: None,
            });
        }
    }

    if wants("messaging") {
        match &args.lattice_nats {
            None => eprintln!("==> messaging: skipped (no --lattice-nats; scripts/bench brings up the lattice)"),
            Some(url) => {
                eprintln!("==> messaging: messaging-jetstream into the no-op component vs a raw JetStream consumer");
                let row = runtime.block_on(messaging::run(url, args.quick))?;
                let _ = writeln!(details, "\n## Job queue: messaging-jetstream vs a raw JetStream consumer\n");
                let _ = writeln!(
                    details,
                    "A lattice (our host, wadm, nats-server) running `bench/noop.yaml`: messaging-jetstream's handler link \
                     delivers each message over wRPC to `components/noop`, which returns Ok, and the provider acks. The raw \
                     side is an async-nats pull consumer acking each message, same work-queue stream settings, \
                     {} in flight for both. {} messages per run, published with JetStream acks; timed until the stream is \
                     empty.\n",
                    messaging::MAX_IN_FLIGHT,
                    row.messages
                );
                let _ = writeln!(
                    details,
                    "| Path | messages/s | vs raw |\n|---|---:|---:|\n| raw async-nats consumer | {:.0} | 1.00x |\n\
                     | messaging-jetstream in-process, no-op `Deliver` (the queue machinery alone) | {:.0} | {:.2}x |\n\
                     | messaging-jetstream -> wRPC -> host -> no-op component | {:.0} | {:.2}x |",
                    row.raw_per_s,
                    row.in_process_per_s,
                    row.in_process_per_s / row.raw_per_s,
                    row.provider_per_s,
                    row.provider_per_s / row.raw_per_s
                );
                for (figure, per_s) in [
                    ("jobs/s, provider in-process, no-op Deliver", row.in_process_per_s),
                    ("jobs/s into a no-op component", row.provider_per_s),
                ] {
                    ratios.push(Ratio {
                        section: "messaging",
                        figure: figure.into(),
                        baseline: format!("{:.0} msg/s", row.raw_per_s),
                        measured: format!("{per_s:.0} msg/s"),
                        ratio: per_s / row.raw_per_s,
                        better: Better::Higher,
                        target: None,
                    });
                }
            }
        }
    }

    if wants("pipeline") {
        match (&args.pipeline_nats, &args.pipeline_http) {
            (Some(nats), Some(http)) => {
                eprintln!("==> pipeline: thumbnails/s through the lattice vs pixelbus-imaging natively on every core");
                let target = pipeline_target(&args, nats, http)?;
                let row = runtime.block_on(pipeline::run(&target, args.quick))?;
                let _ = writeln!(details, "\n## Pipeline vs native\n");
                let _ = writeln!(
                    details,
                    "A lattice (our host, wadm, nats-server) running `wadm.yaml`: each job is an HTTP upload of the same 2 MP \
                     photo ({} KiB JPEG) rendered into the default variants, timed from the first upload to the last \
                     `pixelbus.events.done` event, {} clients uploading at once, {} jobs per run. The native side is \
                     `pixelbus-imaging` rendering the same image into the same variants on {} threads (the machine's cores, \
                     which the lattice and the upload clients share). Medians of the runs, interleaved. Latency: {} jobs \
                     sent open loop at half the pipeline's rate ({:.1} jobs/s), from sending the upload to seeing its done \
                     event.\n",
                    row.jpeg_bytes / 1024,
                    pipeline::CLIENTS,
                    row.jobs,
                    row.cores,
                    row.latency_jobs,
                    row.half_rate
                );
                let _ = writeln!(
                    details,
                    "| Path | jobs/s | vs native |\n|---|---:|---:|\n| pixelbus-imaging natively, {} threads | {:.1} | 1.00x |\n\
                     | HTTP -> api -> JetStream -> thumbnailer -> done event | {:.1} | {:.2}x |\n\n\
                     | Latency at {:.1} jobs/s | p50 | p99 | p99/p50 |\n|---|---:|---:|---:|\n| upload sent -> done event | {:.0} ms | {:.0} ms | {:.2} |",
                    row.cores,
                    row.native_per_s,
                    row.pipeline_per_s,
                    row.pipeline_per_s / row.native_per_s,
                    row.half_rate,
                    row.p50_ms,
                    row.p99_ms,
                    row.p99_ms / row.p50_ms
                );
                ratios.push(Ratio {
                    section: "pipeline",
                    figure: "thumbnail jobs/s, lattice vs native".into(),
                    baseline: format!("{:.1} jobs/s", row.native_per_s),
                    measured: format!("{:.1} jobs/s", row.pipeline_per_s),
                    ratio: row.pipeline_per_s / row.native_per_s,
                    better: Better::Higher,
                    target: Some(0.7),
                });
                ratios.push(Ratio {
                    section: "pipeline",
                    figure: format!("latency p99/p50 at half load ({:.1} jobs/s)", row.half_rate),
                    baseline: format!("p50 {:.0} ms", row.p50_ms),
                    measured: format!("p99 {:.0} ms", row.p99_ms),
                    ratio: row.p99_ms / row.p50_ms,
                    better: Better::Lower,
                    target: Some(3.0),
                });
                if let Some(cpu) = &row.cpu {
                    let _ = writeln!(details, "\n### Where the cores went\n");
                    let _ = writeln!(
                        details,
                        "CPU time (user + system, `/proc/PID/stat`) each process used over the timed pipeline runs, divided \
                         by the jobs they finished; the native row is the native runs' CPU time per job. With both cores \
                         busy on both sides, pipeline/native jobs/s is about native CPU per job / lattice CPU per job. \
                         The thumbnailer's own mean `render_ms` (decode, resize, encode, wall time) was {:.1} ms and its \
                         whole job (`processing_ms`: read the original, render, write the variants and the record) \
                         {:.1} ms.\n",
                        cpu.render_ms, cpu.processing_ms
                    );
                    let total: f64 = cpu.processes.iter().map(|p| p.ms_per_job).sum();
                    let system: f64 = cpu.processes.iter().map(|p| p.system_ms_per_job).sum();
                    let _ = writeln!(details, "| Process | CPU ms per job | of it in the kernel | share |\n|---|---:|---:|---:|");
                    for p in &cpu.processes {
                        let _ = writeln!(
                            details,
                            "| {} | {:.1} | {:.1} | {:.0}% |",
                            p.name,
                            p.ms_per_job,
                            p.system_ms_per_job,
                            100.0 * p.ms_per_job / total
                        );
                    }
                    let _ = writeln!(
                        details,
                        "| **lattice and clients** | **{total:.1}** | **{system:.1}** | 100% |\n| pixelbus-imaging natively | {:.1} | {:.1} | {:.2}x of the lattice's |",
                        cpu.native_ms_per_job,
                        cpu.native_system_ms_per_job,
                        cpu.native_ms_per_job / total
                    );
                    eprintln!(
                        "    cpu per job: lattice and clients {total:.1} ms, {system:.1} of it in the kernel ({}), native {:.1} ms, render_ms {:.1}",
                        cpu.processes.iter().map(|p| format!("{} {:.1}", p.name, p.ms_per_job)).collect::<Vec<_>>().join(", "),
                        cpu.native_ms_per_job,
                        cpu.render_ms
                    );
                }
                if let Some(mem) = &row.memory {
                    let _ = writeln!(details, "\n## Memory\n");
                    let _ = writeln!(
                        details,
                        "Resident memory (`VmRSS`) of the pipeline lattice's host and of each provider process it started \
                         (nats-server and wadm are not counted), idle (deployed, before the first job) and at its peak over \
                         the warm-up and the saturated runs above (the kernel's `VmHWM`, reset before them). The native \
                         baseline is a process of its own rendering {} jobs on {} threads, as one saturated run does.\n",
                        row.jobs, row.cores
                    );
                    let _ = writeln!(details, "| Process | idle MiB | peak MiB |\n|---|---:|---:|");
                    for p in &mem.lattice {
                        let _ = writeln!(details, "| {} | {:.0} | {:.0} |", p.name, p.idle_mib, p.peak_mib);
                    }
                    let idle: f64 = mem.lattice.iter().map(|p| p.idle_mib).sum();
                    let peak: f64 = mem.lattice.iter().map(|p| p.peak_mib).sum();
                    let _ = writeln!(
                        details,
                        "| **host and providers** | **{idle:.0}** | **{peak:.0}** |\n| {} | {:.0} | {:.0} |",
                        mem.native.name, mem.native.idle_mib, mem.native.peak_mib
                    );
                    ratios.push(Ratio {
                        section: "memory",
                        figure: "peak RSS, host and providers vs native".into(),
                        baseline: format!("{:.0} MiB", mem.native.peak_mib),
                        measured: format!("{peak:.0} MiB"),
                        ratio: peak / mem.native.peak_mib,
                        better: Better::Lower,
                        target: None,
                    });
                }
            }
            _ => eprintln!("==> pipeline: skipped (no --pipeline-nats and --pipeline-http; scripts/bench brings up the lattice)"),
        }
    }

    if wants("http") {
        match &args.lattice_http {
            Some(lattice_http) => {
                eprintln!("==> http: components/hello through the lattice's HTTP server vs wasmtime serve");
                let api = match (&args.pipeline_nats, &args.pipeline_http) {
                    (Some(nats), Some(api_http)) => {
                        let thumb = pipeline::stored_thumbnail(&pipeline_target(&args, nats, api_http)?)?;
                        Some((std::net::SocketAddr::from(([127, 0, 0, 1], port_of(api_http)?)), thumb))
                    }
                    _ => None,
                };
                let setup = http::Setup {
                    lattice_http: std::net::SocketAddr::from(([127, 0, 0, 1], port_of(lattice_http)?)),
                    wasmtime: args.wasmtime.clone(),
                    hello_wasm: args.hello_wasm.clone(),
                    log_dir: args.log_dir.clone(),
                    api,
                };
                let row = http::run(&setup, args.quick)?;
                let _ = writeln!(details, "\n## HTTP path vs a plain runtime\n");
                let _ = writeln!(
                    details,
                    "`components/hello` (a wasi:http handler answering `200 ok`, no other imports) served by the host's \
                     built-in HTTP server on the benchmark lattice, and the same file by `{}` (`wasmtime serve -Scli`, a \
                     fresh instance per request as the host does). One closed-loop load generator \
                     (`crates/bench/src/http.rs`): {} keep-alive connections sending `GET` back to back, {} s per run, \
                     the two servers taking turns, median of {} runs; its threads share the 2 cores with the server. The \
                     api component itself cannot run under `wasmtime serve` (it imports wasi:keyvalue, wasi:blobstore, \
                     wasmcloud:messaging and wasi:config); its routes on the pipeline lattice are measured with the same \
                     generator below, against the same `wasmtime serve` baseline.\n",
                    row.wasmtime_version,
                    row.connections,
                    row.seconds,
                    row.reps
                );
                let _ = writeln!(details, "| Path | requests/s | p50 ms | p99 ms | failed | vs wasmtime serve |\n|---|---:|---:|---:|---:|---:|");
                let mut rows = vec![
                    ("`wasmtime serve`, hello".to_string(), row.wasmtime),
                    ("lattice: built-in HTTP server -> hello".to_string(), row.lattice),
                ];
                rows.extend(row.api.iter().map(|p| (format!("lattice: {}", p.label), p.load)));
                for (label, load) in &rows {
                    let _ = writeln!(
                        details,
                        "| {label} | {:.0} | {:.2} | {:.2} | {} | {:.2}x |",
                        load.per_s,
                        load.p50_ms,
                        load.p99_ms,
                        load.errors,
                        load.per_s / row.wasmtime.per_s
                    );
                }
                ratios.push(Ratio {
                    section: "http",
                    figure: "requests/s, lattice HTTP server vs wasmtime serve (hello)".into(),
                    baseline: format!("{:.0} req/s", row.wasmtime.per_s),
                    measured: format!("{:.0} req/s", row.lattice.per_s),
                    ratio: row.lattice.per_s / row.wasmtime.per_s,
                    better: Better::Higher,
                    target: Some(0.8),
                });
                ratios.push(Ratio {
                    section: "http",
                    figure: "p99 latency, lattice HTTP server vs wasmtime serve (hello)".into(),
                    baseline: format!("{:.2} ms", row.wasmtime.p99_ms),
                    measured: format!("{:.2} ms", row.lattice.p99_ms),
                    ratio: row.lattice.p99_ms / row.wasmtime.p99_ms,
                    better: Better::Lower,
                    target: None,
                });
            }
            None => eprintln!("==> http: skipped (no --lattice-http; scripts/bench brings up the lattice)"),
        }
    }

    if wants("coldstart") {
        match (&args.pipeline_nats, &args.pipeline_http, &args.pipeline_lattice, &args.pipeline_manifest, &args.pipeline_app) {
            (Some(nats), Some(http), Some(lattice), Some(manifest), Some(app)) => {
                eprintln!("==> coldstart: wash app deploy -> first 200 from /healthz");
                let deployment = local_deployment(lattice, nats, http, manifest, app, &args.pipeline_compile_cache)?;
                let pixelbus = coldstart::run(&deployment, args.quick)?;
                // The same measurement of a small app, and what compiling the pipeline's components
                // costs, to split the pipeline's figure.
                let small = match (&args.lattice_nats, &args.lattice_http, &args.lattice_name, &args.lattice_manifest, &args.lattice_app) {
                    (Some(nats), Some(http), Some(lattice), Some(manifest), Some(app)) => {
                        eprintln!("    the same for {app} (components/hello behind the built-in HTTP server)");
                        let small = local_deployment(lattice, nats, http, manifest, app, &args.lattice_compile_cache)?;
                        Some((app.clone(), coldstart::run(&small, args.quick)?))
                    }
                    _ => None,
                };
                let mut compiles = Vec::new();
                for component in &args.pipeline_components {
                    let ms = coldstart::compile_ms(component, if args.quick { 1 } else { 3 })?;
                    let size = std::fs::metadata(component).map(|m| m.len()).unwrap_or(0);
                    eprintln!("    compiling {}: {ms:.0} ms", component.display());
                    compiles.push((component.display().to_string(), size, ms));
                }
                let _ = writeln!(details, "\n## Cold start\n");
                let _ = writeln!(
                    details,
                    "The pipeline lattice with `{app}` undeployed and deleted, and nothing of it left running (components \
                     and providers, from `wash get inventory`), then `wash app deploy` of the manifest `scripts/up` rendered, \
                     timed from starting the command to the first `200` from `GET /healthz` (polled every 2 ms on new \
                     connections). Median of {} deploys of each kind, interleaved: with the host's compile cache kept \
                     (`PIXELBUS_COMPILE_CACHE_DIR`, patches/wasmcloud-runtime.patch: the host loads the \
                     machine code it compiled before, as after any earlier deploy of the same bytes), and with the cache \
                     emptied first (the host compiles every component, as an unpatched wasmCloud 1.x host does on every \
                     deploy). The api answers before the providers it does not need for `/healthz` have started. \
                     wasmCloud 1.x has no scale to zero: a deployed component stays compiled and is instantiated per \
                     request, so the first request after a deploy is the cold one; it is compared with 20 warm ones.\n",
                    pixelbus.cached.reps
                );
                let column = |row: Option<&coldstart::ColdStartRow>, pick: fn(&coldstart::ColdStartRow) -> f64, digits: usize| {
                    row.map_or_else(|| "-".to_string(), |row| format!("{:.*}", digits, pick(row)))
                };
                let steps_table = |details: &mut String, start: &coldstart::ColdStart, with_requests: bool| {
                    let (kept, emptied) = (Some(&start.cached), start.compiling.as_ref());
                    let _ = writeln!(
                        details,
                        "| Step | cache kept, ms | cache emptied, ms |\n|---|---:|---:|\n\
                         | `wash app deploy` started -> the command exited (wadm took the manifest) | {} | {} |\n\
                         | `wash app deploy` started -> first 200 | {} | {} |",
                        column(kept, |r| r.deploy_command_ms, 0),
                        column(emptied, |r| r.deploy_command_ms, 0),
                        column(kept, |r| r.deploy_to_200_ms, 0),
                        column(emptied, |r| r.deploy_to_200_ms, 0),
                    );
                    if with_requests {
                        let _ = writeln!(
                            details,
                            "| that first request's round trip | {} | {} |\n| a warm `GET /healthz` round trip | {} | {} |",
                            column(kept, |r| r.first_request_ms, 1),
                            column(emptied, |r| r.first_request_ms, 1),
                            column(kept, |r| r.warm_request_ms, 1),
                            column(emptied, |r| r.warm_request_ms, 1),
                        );
                    }
                };
                steps_table(&mut details, &pixelbus, true);
                if let Some((small_app, small)) = &small {
                    let _ = writeln!(
                        details,
                        "\nThe same, {} deploys of each kind, on the benchmark lattice with `{small_app}` (bench/noop.yaml: \
                         `components/hello`, {} KiB, behind the built-in HTTP server, beside `components/noop` and \
                         messaging-jetstream), first 200 from any route:\n",
                        small.cached.reps,
                        std::fs::metadata(&args.hello_wasm).map(|m| m.len() / 1024).unwrap_or(0),
                    );
                    steps_table(&mut details, small, false);
                    ratios.push(Ratio {
                        section: "coldstart",
                        figure: "wash app deploy -> first 200, hello app vs the 150 ms target".into(),
                        baseline: "150 ms".into(),
                        measured: format!("{:.0} ms", small.cached.deploy_to_200_ms),
                        ratio: small.cached.deploy_to_200_ms / 150.0,
                        better: Better::Lower,
                        target: Some(1.0),
                    });
                }
                if !compiles.is_empty() {
                    let _ = writeln!(
                        details,
                        "\nCompiling the pipeline's components with wasmtime 38 (the host's engine; cranelift on every core, \
                         median of {} compiles in this process, no cache). With the cache emptied the host compiles both \
                         at once, while it starts the providers:\n\n| Component | size | compile ms |\n|---|---:|---:|",
                        if args.quick { 1 } else { 3 }
                    );
                    for (name, size, ms) in &compiles {
                        let _ = writeln!(details, "| `{name}` | {} KiB | {ms:.0} |", size / 1024);
                    }
                }
                if let Some(compiling) = &pixelbus.compiling {
                    ratios.push(Ratio {
                        section: "coldstart",
                        figure: "wash app deploy -> first 200, compile cache kept vs emptied".into(),
                        baseline: format!("{:.0} ms", compiling.deploy_to_200_ms),
                        measured: format!("{:.0} ms", pixelbus.cached.deploy_to_200_ms),
                        ratio: pixelbus.cached.deploy_to_200_ms / compiling.deploy_to_200_ms,
                        better: Better::Lower,
                        target: None,
                    });
                }
                ratios.push(Ratio {
                    section: "coldstart",
                    figure: "wash app deploy -> first 200 (compile cache kept) vs the 150 ms target".into(),
                    baseline: "150 ms".into(),
                    measured: format!("{:.0} ms", pixelbus.cached.deploy_to_200_ms),
                    ratio: pixelbus.cached.deploy_to_200_ms / 150.0,
                    better: Better::Lower,
                    target: Some(1.0),
                });
            }
            _ => eprintln!("==> coldstart: skipped (it needs the pipeline lattice: --pipeline-nats, --pipeline-http, --pipeline-lattice, --pipeline-manifest, --pipeline-app)"),
        }
    }

    let table = report::table(&ratios);
    println!("\n{table}");
    let mut md = String::new();
    let _ = writeln!(md, "# pixelbus benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `{}`{}. Every ratio is measured against its baseline in the same run (medians over repetitions); \
         absolute numbers move with the machine, the ratios much less.\n",
        args.command,
        if args.quick { " (--quick: a smoke run, not figures to quote)" } else { "" }
    );
    let _ = writeln!(md, "- Machine: {}", machine());
    let _ = writeln!(
        md,
        "- Versions: {}; wasmtime 38.0.4 (as embedded by wasmcloud-host 0.27.1); {}",
        version_of("rustc", "--version"),
        version_of("nats-server", "--version")
    );
    let _ = writeln!(md, "\n![ratios]({})\n", args.svg.display());
    let _ = writeln!(md, "## Summary\n\n{table}");
    md.push_str(&details);
    std::fs::write(&args.out, md).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = args.svg.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.svg, report::svg(&ratios, "pixelbus: ratios against same-run baselines"))
        .with_context(|| format!("writing {}", args.svg.display()))?;
    eprintln!("wrote {} and {}", args.out.display(), args.svg.display());
    Ok(())
}
