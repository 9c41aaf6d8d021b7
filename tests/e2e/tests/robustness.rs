//! Bad and odd inputs over HTTP and NATS, run against the lattice brought up in `lattice.rs`:
//! every input gets a thumbnail or a 4xx with a JSON reason (a reply with a reason over NATS);
//! never a 5xx, a hang or a dead host, and the host's memory stays bounded.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use image::codecs::gif::GifEncoder;
use image::{DynamicImage, Frame, ImageBuffer, ImageFormat, Rgb, Rgba, RgbaImage};
use pixelbus_e2e::{bearer, get, http, parse_pid_file, test_jpeg, Lattice};

use crate::pipeline::wait_done;
use serde_json::Value;

/// The host's resident memory may not pass this while the corpus runs (measured 112–117 MiB).
const HOST_PEAK_RSS_CEILING_MIB: u64 = 384;

/// How long a submit request may wait for the api's reply.
const REPLY_WITHIN: Duration = Duration::from_secs(30);

/// What an input must come to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// A thumbnail (accepted, the job ends done).
    Thumbnail,
    /// A 4xx with this error code.
    Refused(u16, &'static str),
    /// Either, as long as the reason is stated (truncated files: a decoder may still read
    /// enough of the file to render it).
    Either,
}

struct Input {
    class: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    expect: Expect,
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    // Encoding a valid in-memory image cannot fail.
    let _ = image.write_to(&mut out, format);
    out.into_inner()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = ImageBuffer::from_fn(width, height, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 90u8]));
    encode(DynamicImage::ImageRgb8(img), ImageFormat::Png)
}

fn gif(frames: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        let frames = (0..frames).map(|i| Frame::new(RgbaImage::from_pixel(64, 48, Rgba([(i * 13) as u8, 40, 200, 255]))));
        // Encoding in-memory frames cannot fail.
        let _ = encoder.encode_frames(frames);
    }
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG whose header declares `side`×`side` pixels, with next to no data behind it.
fn png_bomb(side: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A real JPEG with its frame header (SOF0) rewritten to declare `side`×`side` pixels.
fn jpeg_bomb(side: u16) -> anyhow::Result<Vec<u8>> {
    let mut jpeg = test_jpeg(64, 48);
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).context("no SOF0 in the test JPEG")?;
    jpeg[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    Ok(jpeg)
}

/// A JPEG carrying `segments` APP1 (EXIF) segments of ~64 KiB of junk each.
fn jpeg_with_huge_exif(segments: usize) -> Vec<u8> {
    let jpeg = test_jpeg(320, 240);
    let mut out = jpeg[..2].to_vec();
    for i in 0..segments {
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend((0..65_000u32).map(|j| (j.wrapping_mul(31).wrapping_add(i as u32)) as u8));
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An Adobe CMYK JPEG, as print workflows save them (jpeg-encoder writes the APP14 marker).
fn cmyk_jpeg(width: u16, height: u16) -> anyhow::Result<Vec<u8>> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| [(x % 256) as u8, (y % 256) as u8, 60, 20]))
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85).encode(&pixels, width, height, jpeg_encoder::ColorType::Cmyk)?;
    Ok(out)
}

/// A lossless WebP with an alpha channel (the image crate's encoder writes lossless only).
fn webp_with_alpha(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| Rgba([(x * 3) as u8, (y * 2) as u8, 150, ((x + y) % 256) as u8]));
    encode(DynamicImage::ImageRgba8(img), ImageFormat::WebP)
}

fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as u8
        })
        .collect()
}

/// Cut points spread over the whole file, headers included.
fn truncations(class: &'static str, content_type: &'static str, whole: &[u8], cuts: usize) -> Vec<Input> {
    (1..=cuts)
        .map(|i| whole.len() * i / (cuts + 1))
        .chain([1, 8, 20])
        .map(|at| Input { class, content_type, body: whole[..at.min(whole.len() - 1)].to_vec(), expect: Expect::Either })
        .collect()
}

fn corpus() -> anyhow::Result<Vec<Input>> {
    let too_large = Expect::Refused(422, "too_large");
    let mut inputs = vec![
        Input { class: "empty", content_type: "image/jpeg", body: Vec::new(), expect: Expect::Refused(400, "bad_request") },
        Input { class: "one byte", content_type: "image/png", body: vec![0xff], expect: Expect::Refused(415, "unsupported_media_type") },
        Input { class: "random bytes", content_type: "image/jpeg", body: random_bytes(4096, 7), expect: Expect::Refused(415, "unsupported_media_type") },
        Input { class: "wrong magic, image content-type", content_type: "image/png", body: b"GIF-ish? no: plain text".to_vec(), expect: Expect::Refused(415, "unsupported_media_type") },
        Input { class: "PNG sent as image/jpeg (lying content-type)", content_type: "image/jpeg", body: png(300, 200), expect: Expect::Thumbnail },
        Input { class: "PNG declaring 100000x100000 (bomb)", content_type: "image/png", body: png_bomb(100_000), expect: too_large },
        Input { class: "JPEG declaring 65000x65000 (bomb)", content_type: "image/jpeg", body: jpeg_bomb(65_000)?, expect: too_large },
        Input { class: "16-bit PNG", content_type: "image/png", body: encode(DynamicImage::ImageRgb16(ImageBuffer::from_fn(200, 150, |x, y| Rgb([(x * 300) as u16, (y * 400) as u16, 9000u16]))), ImageFormat::Png), expect: Expect::Thumbnail },
        Input { class: "GIF with 300 frames (first frame used)", content_type: "image/gif", body: gif(300), expect: Expect::Thumbnail },
        Input { class: "CMYK JPEG (Adobe)", content_type: "image/jpeg", body: cmyk_jpeg(300, 200)?, expect: Expect::Thumbnail },
        Input { class: "WebP with alpha (lossless)", content_type: "image/webp", body: webp_with_alpha(300, 200), expect: Expect::Thumbnail },
        Input { class: "JPEG with 640 KiB of EXIF", content_type: "image/jpeg", body: jpeg_with_huge_exif(10), expect: Expect::Thumbnail },
    ];
    inputs.extend(truncations("truncated JPEG", "image/jpeg", &test_jpeg(400, 300), 12));
    inputs.extend(truncations("truncated PNG", "image/png", &png(400, 300), 12));
    inputs.extend(truncations("truncated GIF", "image/gif", &gif(3), 6));
    inputs.extend(truncations("truncated WebP", "image/webp", &webp_with_alpha(300, 200), 6));
    Ok(inputs)
}

/// Peak resident memory of a process since the last reset (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    let kib: u64 = line.split_whitespace().nth(1).context("VmHWM value")?.parse()?;
    Ok(kib / 1024)
}

#[derive(Default)]
struct Tally {
    thumbnails: usize,
    failed_jobs: usize,
    refused: usize,
}

/// One HTTP input: its outcome, checked against what it must come to.
fn post_one(lattice: &Lattice, input: &Input, tally: &mut Tally) -> anyhow::Result<()> {
    let url = format!("{}/images", lattice.base_url());
    let mut req = http().post(&url).header("content-type", input.content_type);
    if let Some(value) = bearer() {
        req = req.header("authorization", value);
    }
    let mut resp = req
        .send(&input.body[..])
        .with_context(|| format!("{}: the request itself failed", input.class))?;
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_slice(&resp.body_mut().read_to_vec()?)
        .with_context(|| format!("{}: {status} without a JSON body", input.class))?;
    ensure!(status < 500, "{}: {status} {body}", input.class);
    if status != 202 {
        ensure!((400..500).contains(&status), "{}: unexpected {status} {body}", input.class);
        let code = body["error"]["code"].as_str().unwrap_or_default();
        ensure!(!code.is_empty() && body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: no reason: {body}", input.class);
        match input.expect {
            Expect::Refused(want_status, want_code) => {
                ensure!((status, code) == (want_status, want_code), "{}: {status} {body}, wanted {want_status} {want_code}", input.class)
            }
            Expect::Thumbnail => bail!("{}: refused ({status} {body}), wanted a thumbnail", input.class),
            Expect::Either => {}
        }
        tally.refused += 1;
        return Ok(());
    }
    if let Expect::Refused(want, code) = input.expect {
        bail!("{}: accepted, wanted {want} {code}", input.class);
    }
    let id = body["id"].as_str().context("202 without an id")?;
    let job_url = format!("{}/images/{id}", lattice.base_url());
    let job = wait_done(lattice, id).with_context(|| input.class)?;
    if job["status"] == "done" {
        let (status, content_type, thumb) = get(&format!("{job_url}/thumb"))?;
        ensure!(status == 200 && content_type.starts_with("image/"), "{}: thumb -> {status} {content_type}", input.class);
        image::load_from_memory(&thumb).with_context(|| format!("{}: the thumbnail does not decode", input.class))?;
        tally.thumbnails += 1;
    } else {
        ensure!(input.expect == Expect::Either, "{}: job failed, wanted a thumbnail: {job}", input.class);
        ensure!(job["error"].as_str().is_some_and(|e| !e.is_empty()), "{}: failed without a reason: {job}", input.class);
        tally.failed_jobs += 1;
    }
    Ok(())
}

pub fn bad_and_odd_inputs_over_http(lattice: &Lattice) -> anyhow::Result<()> {
    let pid_file = lattice.state_dir.join("wash/wasmcloud.pid");
    let host = parse_pid_file(&std::fs::read_to_string(&pid_file)?).context("host pid")?;
    // Reset the peak-RSS mark so it covers this corpus only.
    std::fs::write(format!("/proc/{host}/clear_refs"), "5").context("resetting the host's VmHWM")?;
    let inputs = corpus()?;
    let mut tally = Tally::default();
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for input in &inputs {
        post_one(lattice, input, &mut tally)?;
        *classes.entry(input.class).or_default() += 1;
    }
    let (status, _, _) = get(&format!("{}/healthz", lattice.base_url()))?;
    ensure!(status == 200, "/healthz -> {status} after the corpus");
    let peak = peak_rss_mib(host)?;
    println!(
        "corpus over HTTP: {} inputs in {} classes: {} thumbnails, {} refused (4xx with a reason), {} accepted then failed with a reason, 0 5xx; host peak RSS {peak} MiB (ceiling {HOST_PEAK_RSS_CEILING_MIB})",
        inputs.len(),
        classes.len(),
        tally.thumbnails,
        tally.refused,
        tally.failed_jobs
    );
    ensure!(peak <= HOST_PEAK_RSS_CEILING_MIB, "host peak RSS {peak} MiB over {HOST_PEAK_RSS_CEILING_MIB} MiB");
    Ok(())
}

/// The same corpus as bodies of `pixelbus.jobs.submit` requests: each gets a reply, an accepted
/// job or an error with a code.
pub fn bad_and_odd_inputs_over_nats(lattice: &Lattice) -> anyhow::Result<()> {
    let inputs = corpus()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (accepted, refused) = runtime.block_on(async {
        let nats = async_nats::connect(format!("127.0.0.1:{}", lattice.nats_port)).await?;
        let (mut accepted, mut refused) = (0, 0);
        for input in &inputs {
            let request = async_nats::Request::new().payload(input.body.clone().into()).timeout(Some(REPLY_WITHIN));
            let reply = nats
                .send_request("pixelbus.jobs.submit", request)
                .await
                .with_context(|| format!("{}: no reply within {REPLY_WITHIN:?}", input.class))?;
            let body: Value = serde_json::from_slice(&reply.payload).with_context(|| format!("{}: reply is not JSON", input.class))?;
            if body["id"].is_string() {
                ensure!(!matches!(input.expect, Expect::Refused(..)), "{}: accepted over NATS: {body}", input.class);
                accepted += 1;
            } else {
                let code = body["error"]["code"].as_str().unwrap_or_default();
                ensure!(!code.is_empty(), "{}: reply without id or error code: {body}", input.class);
                ensure!(code != "unavailable", "{}: a backend failed: {body}", input.class);
                ensure!(input.expect != Expect::Thumbnail, "{}: refused over NATS: {body}", input.class);
                refused += 1;
            }
        }
        anyhow::Ok((accepted, refused))
    })?;
    let (status, _, _) = get(&format!("{}/healthz", lattice.base_url()))?;
    ensure!(status == 200, "/healthz -> {status} after the NATS corpus");
    println!("corpus over NATS: {} inputs: {accepted} accepted, {refused} refused with a reason", inputs.len());
    Ok(())
}
