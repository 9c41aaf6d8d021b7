// /local/ in Debian's chromium: the imaging component (build/imaging.wasm through jco) resizes
// a photo inside the tab with no upload, and, given a lattice job, renders the same variants
// of the same original byte for byte as the lattice's thumbnailer did.
import { readFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { launch, watchPage, check, env, run } from './lib.mjs';

const base = env('PIXELBUS_BASE_URL');
const token = env('PIXELBUS_API_TOKEN');
const photo = env('PIXELBUS_PHOTOS').split(':')[0];
const artifacts = env('PIXELBUS_ARTIFACTS');
const imagingWasm = env('PIXELBUS_IMAGING_WASM');
mkdirSync(artifacts, { recursive: true });

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// The photo's pixel size, from its header (JPEG SOF or PNG IHDR): the test's own reading.
function sizeOf(bytes) {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
  for (let i = 2; i + 9 < bytes.length;) {
    if (bytes[i] !== 0xff) throw new Error('not a JPEG marker');
    const marker = bytes[i + 1];
    const length = bytes.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return [bytes.readUInt16BE(i + 7), bytes.readUInt16BE(i + 5)];
    i += 2 + length;
  }
  throw new Error('no frame header');
}

async function upload(bytes) {
  const res = await fetch(`${base}/images`, { method: 'POST', headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${token}` }, body: bytes });
  check(res.status === 202, `upload -> ${res.status}`);
  const { id } = await res.json();
  for (let i = 0; i < 300; i++) {
    const job = await (await fetch(`${base}/images/${id}`)).json();
    if (job.status === 'done') return job;
    check(job.status !== 'failed', `the job failed: ${job.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${id} did not finish`);
}

async function outputs(page) {
  return page.$$eval('#outputs img', (imgs) => imgs.map((img) => ({
    name: img.dataset.variant, width: Number(img.dataset.width), height: Number(img.dataset.height),
    naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, alt: img.alt,
  })));
}

async function componentIsTheBuiltOne(page) {
  await page.locator('#module[data-ready="true"]').waitFor({ timeout: 30_000 });
  const shown = await page.locator('#module').evaluate((el) => ({ ...el.dataset }));
  const built = JSON.parse(await (await fetch(`${base}/local/build.json`)).text());
  check(shown.componentSha256 === sha256(readFileSync(imagingWasm)), `the api embeds the build of ${imagingWasm}: ${shown.componentSha256}`);
  check(shown.coreSha256 === built.core_sha256, `the tab ran the core module built from it: ${shown.coreSha256} vs ${built.core_sha256}`);
  return shown;
}

await run('browser /local/ in the tab', async () => {
  const bytes = readFileSync(photo);
  const [sw, sh] = sizeOf(bytes);
  const { browser, close } = await launch();
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    watchPage(page, problems);
    const sent = [];
    page.on('request', (req) => { if (req.method() !== 'GET') sent.push(`${req.method()} ${req.url()}`); });
    await page.goto(`${base}/local/`);
    const shown = await componentIsTheBuiltOne(page);
    await page.getByLabel('Image file').setInputFiles(photo);
    await page.getByRole('button', { name: 'Resize here' }).click();
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('#outputs img')];
      return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout: 60_000 });
    const out = await outputs(page);
    for (const [o, box] of out.map((o, i) => [o, [128, 480, 1024][i]])) {
      // The image decodes at the size the component reported; contain keeps the aspect
      // ratio, fits the box and never upscales.
      check(o.naturalWidth === o.width && o.naturalHeight === o.height, `${o.name} decodes at its reported size: ${JSON.stringify(o)}`);
      const scale = Math.min(box / sw, box / sh, 1);
      check(Math.abs(o.width - sw * scale) <= 1 && Math.abs(o.height - sh * scale) <= 1, `${o.name} of ${sw}×${sh} in ${box}: ${o.width}×${o.height}`);
      check(o.alt.includes(o.name), `alt text: ${o.alt}`);
    }
    const ms = Number(await page.locator('#t-browser').getAttribute('data-ms'));
    check(ms > 0, `a browser time is shown: ${ms}`);
    check(sent.length === 0, `nothing was sent to the server: ${sent.join(', ')}`);
    console.log(`browser /local/: ${sw}×${sh} -> ${out.map((o) => `${o.name} ${o.width}×${o.height}`).join(', ')} in ${ms.toFixed(1)} ms; core ${shown.coreSha256.slice(0, 12)}`);
    check(problems.length === 0, `the page reported problems:\n${problems.join('\n')}`);
  } finally {
    await close();
  }
});

await run('browser /local/ against the lattice', async () => {
  const job = await upload(readFileSync(photo));
  const { browser, close } = await launch();
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    watchPage(page, problems);
    await page.goto(`${base}/local/?job=${job.id}`);
    await componentIsTheBuiltOne(page);
    await page.locator('#job-source').waitFor();
    await page.getByRole('button', { name: 'Resize here' }).click();
    await page.locator('#compare').waitFor({ timeout: 60_000 });
    const rows = await page.$$eval('#compare-rows tr', (trs) => trs.map((tr) => ({ name: tr.dataset.variant, same: tr.dataset.same, text: tr.textContent })));
    check(rows.length === job.variants.length, `a row per variant: ${JSON.stringify(rows)}`);
    const out = await outputs(page);
    for (const v of job.variants) {
      const here = out.find((o) => o.name === v.name);
      check(here && here.width === v.width && here.height === v.height, `${v.name}: the tab made ${JSON.stringify(here)}, the lattice ${v.width}×${v.height}`);
    }
    check(rows.every((r) => r.same === 'true'), `byte-identical to the lattice's variants: ${JSON.stringify(rows)}`);
    const browserMs = Number(await page.locator('#t-browser').getAttribute('data-ms'));
    const serverMs = Number(await page.locator('#t-server').getAttribute('data-ms'));
    check(browserMs > 0 && Number.isFinite(serverMs), `both times shown: browser ${browserMs}, lattice ${serverMs}`);
    await page.screenshot({ path: join(artifacts, 'local.png'), fullPage: true });
    console.log(`browser /local/?job: ${rows.length} variants byte-identical to the lattice's; render ${browserMs.toFixed(1)} ms here, ${serverMs} ms on the lattice (job ${job.id})`);
    check(problems.length === 0, `the page reported problems:\n${problems.join('\n')}`);
  } finally {
    await close();
  }
});
