//! The whole pipeline vs the native library on the same cores: thumbnails per second through a
//! lattice running `wadm.yaml` (HTTP upload -> api -> blobstore/keyvalue -> JetStream ->
//! thumbnailer -> blobstore/keyvalue -> `pixelbus.events.done`), against `pixelbus-imaging`
//! rendering the same images into the same variants on as many threads as the machine has
//! cores. Then the end-to-end latency (upload sent -> done event seen) of jobs sent at half the
//! saturated rate, open loop.
//!
//! One job is one image rendered into the default variants, on both sides.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use futures::StreamExt as _;
use pixelbus_imaging::{default_variants, Limits};

use crate::imaging::photo_jpeg;
use crate::memory;
use crate::stats::{median, percentile};

/// Uploads in flight at saturation (more than the thumbnailer's instances can take at once).
pub const CLIENTS: usize = 8;
/// The generated photo every job sends: 2 MP.
const WIDTH: u32 = 1632;
const HEIGHT: u32 = 1224;

/// A lattice running wadm.yaml, as `scripts/bench` brought it up.
pub struct Target {
    pub http: String,
    pub nats: String,
    pub token: Option<String>,
    /// The lattice's host, to measure its memory and its providers' (see [`crate::memory`]).
    pub host_pid: Option<u32>,
    /// Other processes of the lattice whose CPU time the saturated runs count (nats-server, wadm).
    pub others: Vec<memory::Process>,
}

/// Resident memory of one process, idle (deployed, before any job) and its peak over the
/// saturated runs, in MiB.
pub struct ProcessMemory {
    pub name: String,
    pub idle_mib: f64,
    pub peak_mib: f64,
}

pub struct MemoryRow {
    /// The host first, then each provider process it started.
    pub lattice: Vec<ProcessMemory>,
    /// A process of its own rendering as many jobs on every core as one saturated run.
    pub native: ProcessMemory,
}

/// CPU time one process used over the saturated pipeline runs, per job.
pub struct ProcessCpu {
    pub name: String,
    pub ms_per_job: f64,
    /// The part of it spent in the kernel.
    pub system_ms_per_job: f64,
}

/// Where the cores went: CPU time per job through the lattice, by process, against the native
/// renders' CPU time per job, and what the thumbnailer reported of its own render time.
pub struct CpuRow {
    /// The host, its providers, the other lattice processes, then this process (upload clients).
    pub processes: Vec<ProcessCpu>,
    /// Mean `render_ms` of the timed jobs' done events: decode, resize and encode in the
    /// thumbnailer, wall time (it includes waiting for a core).
    pub render_ms: f64,
    /// Mean `processing_ms`: the thumbnailer's whole job (read the original, render, write the
    /// variants, update the record).
    pub processing_ms: f64,
    /// CPU time per job of the native renders (this process, over the native runs), and the
    /// part of it in the kernel.
    pub native_ms_per_job: f64,
    pub native_system_ms_per_job: f64,
}

pub struct PipelineRow {
    pub cores: usize,
    pub jobs: usize,
    pub jpeg_bytes: usize,
    pub native_per_s: f64,
    pub pipeline_per_s: f64,
    /// Jobs/s the latency run sent, and what it measured.
    pub half_rate: f64,
    pub latency_jobs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub memory: Option<MemoryRow>,
    pub cpu: Option<CpuRow>,
}

/// `jobs` renders of `jpeg` spread over `threads` threads; jobs per second.
fn native_rate(jpeg: &[u8], jobs: usize, threads: usize) -> anyhow::Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    while next.fetch_add(1, Ordering::SeqCst) < jobs {
                        pixelbus_imaging::render(jpeg, &default_variants(), &Limits::default())?;
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| anyhow::anyhow!("a render thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(jobs as f64 / started.elapsed().as_secs_f64())
}

/// The argument `pixelbus-bench` runs [`native_peak_here`] with, in a process of its own.
pub const NATIVE_PEAK_ARG: &str = "--native-peak-jobs";

/// Renders the pipeline's photo `jobs` times on every core, then prints this process's resident
/// memory before the renders and its peak, in KiB (`idle_kib=A peak_kib=B`).
pub fn native_peak_here(jobs: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let jpeg = photo_jpeg(WIDTH, HEIGHT, 7)?;
    let me = std::process::id();
    let idle = memory::status_kib(me, "VmRSS")?;
    memory::reset_peak(me)?;
    native_rate(&jpeg, jobs, cores)?;
    println!("idle_kib={idle} peak_kib={}", memory::status_kib(me, "VmHWM")?);
    Ok(())
}

/// [`native_peak_here`] in a new process of this executable: (idle, peak) in MiB.
fn native_peak(jobs: usize) -> anyhow::Result<ProcessMemory> {
    let exe = std::env::current_exe().context("locating pixelbus-bench")?;
    let out = std::process::Command::new(&exe)
        .args([NATIVE_PEAK_ARG, &jobs.to_string()])
        .output()
        .with_context(|| format!("running {} {NATIVE_PEAK_ARG} {jobs}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "the native render process failed: {}", String::from_utf8_lossy(&out.stderr));
    let field = |key: &str| -> anyhow::Result<f64> {
        let value = text
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .with_context(|| format!("no {key} in the native render process's output {text:?}"))?;
        Ok(value.parse::<f64>()? / 1024.0)
    };
    Ok(ProcessMemory { name: "pixelbus-imaging natively".into(), idle_mib: field("idle_kib=")?, peak_mib: field("peak_kib=")? })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One upload; the job id the api answered 202 with.
fn upload(agent: &ureq::Agent, target: &Target, jpeg: &[u8]) -> anyhow::Result<String> {
    let url = format!("{}/images", target.http);
    let mut request = agent.post(&url).header("content-type", "image/jpeg");
    if let Some(token) = &target.token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(jpeg).with_context(|| format!("POST {url}"))?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    ensure!(status == 202, "POST {url} -> {status}: {body}");
    let accepted: serde_json::Value = serde_json::from_str(&body).with_context(|| format!("202 body is not JSON: {body}"))?;
    Ok(accepted["id"].as_str().context("202 without an id")?.to_string())
}

/// Uploads one small photo and waits (up to 60 s) until its job is done; the path of its stored
/// thumbnail (`/images/{id}/thumb`), for the HTTP section.
pub fn stored_thumbnail(target: &Target) -> anyhow::Result<String> {
    let agent = agent();
    let id = upload(&agent, target, &photo_jpeg(320, 240, 3)?)?;
    let url = format!("{}/images/{id}", target.http);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut response = agent.get(&url).call().with_context(|| format!("GET {url}"))?;
        let job: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
            .with_context(|| format!("GET {url}: not JSON"))?;
        match job["status"].as_str() {
            Some("done") => return Ok(format!("/images/{id}/thumb")),
            Some("failed") => bail!("job {id} failed: {}", job["error"]),
            _ if Instant::now() > deadline => bail!("job {id} not done 60 s after its upload: {job}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A done event as the watch saw it.
#[derive(Clone, Copy)]
struct Done {
    at: Instant,
    render_ms: Option<f64>,
    processing_ms: Option<f64>,
}

/// Done events by job id, with the instant each was seen, collected in the background.
struct DoneWatch {
    seen: Arc<Mutex<HashMap<String, Done>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DoneWatch {
    async fn start(nats: &str) -> anyhow::Result<Self> {
        let client = async_nats::connect(nats).await.with_context(|| format!("connecting to {nats}"))?;
        let mut events = client.subscribe("pixelbus.events.done").await?;
        client.flush().await?;
        let seen: Arc<Mutex<HashMap<String, Done>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let _client = client;
            while let Some(msg) = events.next().await {
                let job: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
                let done = Done {
                    at: Instant::now(),
                    render_ms: job["timings"]["render_ms"].as_f64(),
                    processing_ms: job["timings"]["processing_ms"].as_f64(),
                };
                if let (Some(id), Ok(mut seen)) = (job["id"].as_str(), sink.lock()) {
                    seen.entry(id.to_string()).or_insert(done);
                }
            }
        });
        Ok(DoneWatch { seen, task })
    }

    /// Waits until every one of `ids` is done (at most `within`); each one's done event.
    async fn wait_all(&self, ids: &[String], within: Duration) -> anyhow::Result<Vec<Done>> {
        let deadline = Instant::now() + within;
        loop {
            let found: Vec<Option<Done>> = {
                let seen = self.seen.lock().map_err(|_| anyhow::anyhow!("done watch poisoned"))?;
                ids.iter().map(|id| seen.get(id).copied()).collect()
            };
            let missing = found.iter().filter(|f| f.is_none()).count();
            if missing == 0 {
                return Ok(found.into_iter().flatten().collect());
            }
            if Instant::now() > deadline {
                bail!("{missing} of {} jobs not done within {} s", ids.len(), within.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for DoneWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `jobs` uploads by [`CLIENTS`] clients at once; jobs per second from the first upload to the
/// last done event, and the jobs' done events.
async fn pipeline_rate(target: &Target, watch: &DoneWatch, jpeg: &[u8], jobs: usize) -> anyhow::Result<(f64, Vec<Done>)> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let ids = std::thread::scope(|scope| -> anyhow::Result<Vec<String>> {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<Vec<String>> {
                    let agent = agent();
                    let mut ids = Vec::new();
                    while next.fetch_add(1, Ordering::SeqCst) < jobs {
                        ids.push(upload(&agent, target, jpeg)?);
                    }
                    Ok(ids)
                })
            })
            .collect();
        let mut ids = Vec::new();
        for client in clients {
            ids.extend(client.join().map_err(|_| anyhow::anyhow!("an upload client panicked"))??);
        }
        Ok(ids)
    })?;
    let done = watch.wait_all(&ids, Duration::from_secs(600)).await?;
    let last = done.iter().map(|d| d.at).max().unwrap_or(started);
    Ok((jobs as f64 / last.duration_since(started).as_secs_f64(), done))
}

/// `jobs` uploads sent at `rate` per second on a fixed schedule (each from its own thread, so a
/// slow answer does not delay the next send); latency of each from send to done event, in ms.
async fn latencies(target: &Target, watch: &DoneWatch, jpeg: &[u8], jobs: usize, rate: f64) -> anyhow::Result<Vec<f64>> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let sent = std::thread::scope(|scope| -> anyhow::Result<Vec<(String, Instant)>> {
        let uploads: Vec<_> = (0..jobs)
            .map(|i| {
                let due = start + interval * i as u32;
                scope.spawn(move || -> anyhow::Result<(String, Instant)> {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let sent_at = Instant::now();
                    Ok((upload(&agent(), target, jpeg)?, sent_at))
                })
            })
            .collect();
        uploads
            .into_iter()
            .map(|u| u.join().map_err(|_| anyhow::anyhow!("an upload thread panicked"))?)
            .collect()
    })?;
    let ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
    let done = watch.wait_all(&ids, Duration::from_secs(600)).await?;
    Ok(sent
        .iter()
        .zip(done)
        .map(|((_, sent_at), done)| done.at.saturating_duration_since(*sent_at).as_secs_f64() * 1000.0)
        .collect())
}

/// CPU ticks of each of `processes` now.
fn cpu_now(processes: &[memory::Process]) -> anyhow::Result<Vec<memory::CpuTicks>> {
    processes.iter().map(|p| memory::cpu_ticks(p.pid).with_context(|| format!("CPU time of {} ({})", p.name, p.pid))).collect()
}

/// Adds what each of `processes` used since `before` to `used`.
fn add_cpu_since(processes: &[memory::Process], before: &[memory::CpuTicks], used: &mut [memory::CpuTicks]) -> anyhow::Result<()> {
    for ((total, after), before) in used.iter_mut().zip(cpu_now(processes)?).zip(before) {
        total.add(after.since(*before));
    }
    Ok(())
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Native and pipeline runs interleaved (drift hits both), medians over the repetitions; then
/// the latency run at half the pipeline's median rate.
pub async fn run(target: &Target, quick: bool) -> anyhow::Result<PipelineRow> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (jobs, reps) = if quick { (12, 1) } else { (48, 3) };
    let jpeg = photo_jpeg(WIDTH, HEIGHT, 7)?;
    let watch = DoneWatch::start(&target.nats).await?;
    // Idle: deployed, connected, no job yet. The peaks then cover warm-up and every saturated run.
    let lattice = match target.host_pid {
        Some(host) => {
            let processes = memory::host_and_providers(host)?;
            let mut idle = Vec::with_capacity(processes.len());
            for process in &processes {
                idle.push(memory::status_kib(process.pid, "VmRSS")? as f64 / 1024.0);
                memory::reset_peak(process.pid)?;
            }
            Some((processes, idle))
        }
        None => None,
    };
    // Warm-up: the thumbnailer's instances, the providers' connections, page cache.
    pipeline_rate(target, &watch, &jpeg, CLIENTS).await.context("warm-up through the pipeline")?;
    native_rate(&jpeg, cores, cores)?;
    // CPU time is counted over the timed runs only: the lattice's processes (and this one's
    // upload clients) over the pipeline runs, this process over the native ones.
    let me = memory::Process { pid: std::process::id(), name: "pixelbus-bench (upload clients, done watch)".into() };
    let counted: Option<Vec<memory::Process>> = lattice.as_ref().map(|(processes, _)| {
        processes.iter().cloned().chain(target.others.iter().cloned()).chain([me.clone()]).collect()
    });
    let mut pipeline_ticks = vec![memory::CpuTicks::default(); counted.as_ref().map_or(0, Vec::len)];
    let mut native_ticks = memory::CpuTicks::default();
    let mut timed_done = Vec::new();
    let (mut native, mut pipeline) = (Vec::new(), Vec::new());
    for rep in 1..=reps {
        let before = memory::cpu_ticks(me.pid)?;
        native.push(native_rate(&jpeg, jobs, cores)?);
        native_ticks.add(memory::cpu_ticks(me.pid)?.since(before));
        let before = counted.as_deref().map(cpu_now).transpose()?;
        let (rate, done) = pipeline_rate(target, &watch, &jpeg, jobs).await?;
        if let (Some(processes), Some(before)) = (&counted, &before) {
            add_cpu_since(processes, before, &mut pipeline_ticks)?;
        }
        pipeline.push(rate);
        timed_done.extend(done);
        eprintln!(
            "    pipeline rep {rep}/{reps}: native {:.1} jobs/s on {cores} threads, pipeline {:.1} jobs/s with {CLIENTS} clients",
            native[native.len() - 1],
            pipeline[pipeline.len() - 1]
        );
    }
    let ticks_per_s = memory::clock_ticks_per_s();
    let timed_jobs = (jobs * reps) as f64;
    let per_job_ms = |ticks: u64| ticks as f64 / ticks_per_s * 1000.0 / timed_jobs;
    let cpu = counted.map(|processes| CpuRow {
        processes: processes
            .into_iter()
            .zip(&pipeline_ticks)
            .map(|(p, ticks)| ProcessCpu {
                name: p.name,
                ms_per_job: per_job_ms(ticks.total()),
                system_ms_per_job: per_job_ms(ticks.system),
            })
            .collect(),
        render_ms: mean(timed_done.iter().filter_map(|d| d.render_ms)),
        processing_ms: mean(timed_done.iter().filter_map(|d| d.processing_ms)),
        native_ms_per_job: per_job_ms(native_ticks.total()),
        native_system_ms_per_job: per_job_ms(native_ticks.system),
    });
    let memory = match lattice {
        Some((processes, idle)) => {
            let mut rows = Vec::with_capacity(processes.len());
            for (process, idle_mib) in processes.into_iter().zip(idle) {
                let peak_mib = memory::status_kib(process.pid, "VmHWM")? as f64 / 1024.0;
                rows.push(ProcessMemory { name: process.name, idle_mib, peak_mib });
            }
            Some(MemoryRow { lattice: rows, native: native_peak(jobs)? })
        }
        None => None,
    };
    let (native_per_s, pipeline_per_s) = (median(&native).unwrap_or(f64::NAN), median(&pipeline).unwrap_or(f64::NAN));
    let half_rate = pipeline_per_s / 2.0;
    let latency_jobs = if quick { 10 } else { 40 };
    eprintln!("    latency: {latency_jobs} jobs at {half_rate:.1} jobs/s (half the saturated rate)");
    let samples = latencies(target, &watch, &jpeg, latency_jobs, half_rate).await?;
    Ok(PipelineRow {
        cores,
        jobs,
        jpeg_bytes: jpeg.len(),
        native_per_s,
        pipeline_per_s,
        half_rate,
        latency_jobs,
        p50_ms: percentile(&samples, 50.0).unwrap_or(f64::NAN),
        p99_ms: percentile(&samples, 99.0).unwrap_or(f64::NAN),
        memory,
        cpu,
    })
}
