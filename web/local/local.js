// /local/: the imaging component (build/imaging.wasm, transpiled by jco) resizing an image in
// this tab. With ?job=<id> it takes that job's original and variant specs from the lattice and
// compares its outputs and its time with the lattice's.
const TOKEN_KEY = 'pixelbus-token';          // the gallery's key: one token per tab
const DEFAULT_VARIANTS = [
  { name: 'thumb', max_width: 128, max_height: 128 },
  { name: 'small', max_width: 480, max_height: 480 },
  { name: 'medium', max_width: 1024, max_height: 1024 },
];
const $ = (id) => document.getElementById(id);

let render = null;          // resize.render of the component
let source = null;          // { bytes: Uint8Array, name, type }
let job = null;             // the lattice job the image came from, or that ran it too
let lastOutputs = null;     // what this tab rendered last: [{ name, width, height, data }]

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: 'Bearer ' + token } : {};
}

async function apiFetch(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...options.headers, ...authHeaders() } });
  if (res.status === 401) {
    const token = prompt('This pixelbus needs its API token (scripts/up printed it):');
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      return fetch(path, { ...options, headers: { ...options.headers, ...authHeaders() } });
    }
  }
  return res;
}

async function apiError(res) {
  try { const e = (await res.json()).error; return e.code + ': ' + e.message; } catch { return 'HTTP ' + res.status; }
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// The server's variant spec (snake_case, defaults filled) as the component's WIT record.
function toWit(spec) {
  return {
    name: String(spec.name),
    maxWidth: Number(spec.max_width),
    maxHeight: Number(spec.max_height),
    fit: spec.fit || 'contain',
    format: spec.format || 'jpeg',
    quality: spec.quality == null ? 82 : Number(spec.quality),
  };
}

function readyToRun() {
  $('run').disabled = !(render && source);
  $('server').disabled = !(render && source && lastOutputs);
}

// --- loading the component --------------------------------------------------------------------

async function loadComponent() {
  const started = performance.now();
  try {
    const mod = await import('/local/imaging.js');
    render = mod.resize.render;
  } catch (err) {
    $('module').textContent = 'The imaging component did not load: ' + err.message
      + ' (scripts/build transpiles build/imaging.wasm with jco and embeds the result in the api).';
    $('module').className = 'error';
    return;
  }
  const loadMs = performance.now() - started;
  let about = '';
  try {
    const build = await (await fetch('/local/build.json')).json();
    const core = new Uint8Array(await (await fetch('/local/imaging.core.wasm')).arrayBuffer());
    const coreSum = await sha256(core);
    about = ' Component build/imaging.wasm sha256 ' + build.component_sha256 + '; its core module, which this tab runs, sha256 '
      + coreSum + (coreSum === build.core_sha256 ? ' (as built).' : ' (NOT the one built: ' + build.core_sha256 + ').');
    $('module').dataset.componentSha256 = build.component_sha256;
    $('module').dataset.coreSha256 = coreSum;
  } catch (err) {
    about = ' (build details unavailable: ' + err.message + ')';
  }
  $('module').innerHTML = '';
  $('module').append('Imaging component loaded and compiled in ' + loadMs.toFixed(0) + ' ms.' + about);
  $('module').dataset.ready = 'true';
  readyToRun();
}

// --- the image --------------------------------------------------------------------------------

$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  source = { bytes: new Uint8Array(await file.arrayBuffer()), name: file.name, type: file.type };
  job = null;
  lastOutputs = null;
  $('job-source').hidden = true;
  clearResults();
  status('“' + file.name + '” (' + source.bytes.length + ' bytes) is ready to resize here.');
  readyToRun();
});

async function loadJob(id) {
  const res = await apiFetch('/images/' + encodeURIComponent(id));
  if (!res.ok) { status('Job ' + id + ' could not be read: ' + await apiError(res), true); return; }
  job = await res.json();
  const original = await apiFetch(job.links.original);
  if (!original.ok) { status('The original of job ' + id + ' could not be read: ' + await apiError(original), true); return; }
  source = { bytes: new Uint8Array(await original.arrayBuffer()), name: 'job ' + id, type: original.headers.get('content-type') };
  $('variants').value = JSON.stringify(job.requested, null, 1);
  $('job-source').hidden = false;
  $('job-source').textContent = 'The original of job ' + id + ' (' + source.bytes.length + ' bytes, ' + job.status
    + ' on the lattice), with the variants the lattice rendered for it.';
  status('Loaded job ' + id + ' from the lattice.');
  readyToRun();
}

// --- rendering here ---------------------------------------------------------------------------

function clearResults() {
  $('outputs').replaceChildren();
  $('compare-rows').replaceChildren();
  $('compare').hidden = true;
  $('timings').hidden = true;
  for (const id of ['t-browser', 't-browser-total', 't-server', 't-server-total']) $(id).textContent = '–';
}

function specs() {
  const text = $('variants').value.trim();
  const list = text ? JSON.parse(text) : DEFAULT_VARIANTS;
  if (!Array.isArray(list) || !list.length) throw new Error('the variants must be a non-empty JSON list');
  return list;
}

function formatMime(format) { return { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' }[format] || 'application/octet-stream'; }

async function runHere() {
  clearResults();
  let wanted;
  try { wanted = specs().map(toWit); } catch (err) { status('The variants are not valid JSON: ' + err.message, true); return; }
  status('Resizing in this tab…');
  await new Promise((r) => setTimeout(r, 0));        // let the status paint first
  const started = performance.now();
  let info, rendered;
  try {
    [info, rendered] = render(source.bytes, wanted);
  } catch (err) {
    // result<_, string> errors arrive as a ComponentError whose payload is "code: message".
    status('The imaging component refused the image: ' + (err.payload ?? err.message), true);
    return;
  }
  const ms = performance.now() - started;
  lastOutputs = rendered.map((r) => ({ name: r.name, width: r.width, height: r.height, format: r.format, data: r.data }));
  $('timings').hidden = false;
  $('t-browser').textContent = ms.toFixed(1) + ' ms';
  $('t-browser-total').textContent = '(no upload, no storage)';
  $('t-browser').dataset.ms = String(ms);
  const figures = lastOutputs.map((r) => {
    const li = document.createElement('li');
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.src = URL.createObjectURL(new Blob([r.data], { type: formatMime(r.format) }));
    img.alt = r.name + ' variant rendered in this browser, ' + r.width + '×' + r.height;
    img.dataset.variant = r.name;
    img.dataset.width = String(r.width);
    img.dataset.height = String(r.height);
    const caption = document.createElement('figcaption');
    caption.textContent = r.name + ': ' + r.width + '×' + r.height + ' ' + r.format + ', ' + r.data.length + ' bytes';
    figure.append(img, caption);
    li.append(figure);
    return li;
  });
  $('outputs').replaceChildren(...figures);
  status('Rendered ' + lastOutputs.length + ' variant(s) of a ' + info.width + '×' + info.height + ' ' + info.format
    + ' in ' + ms.toFixed(1) + ' ms, in this tab.');
  $('status').dataset.source = info.width + 'x' + info.height;
  readyToRun();
  if (job && job.status === 'done') await compareWithLattice();
}

// --- the lattice's side of the same image ----------------------------------------------------

async function compareWithLattice() {
  const t = job.timings || {};
  $('t-server').textContent = t.render_ms != null ? t.render_ms + ' ms' : 'not recorded';
  $('t-server-total').textContent = t.processing_ms != null ? t.processing_ms + ' ms (with storage and queue)' : '–';
  if (t.render_ms != null) $('t-server').dataset.ms = String(t.render_ms);
  const rows = [];
  let same = 0;
  for (const here of lastOutputs) {
    const theirs = (job.variants || []).find((v) => v.name === here.name);
    const tr = document.createElement('tr');
    tr.dataset.variant = here.name;
    let verdict = 'the lattice has no such variant';
    let cls = 'differs';
    if (theirs) {
      const res = await apiFetch(theirs.url);
      if (res.ok) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        const identical = (await sha256(bytes)) === (await sha256(here.data));
        verdict = identical ? 'yes, byte for byte' : 'no (' + bytes.length + ' bytes there)';
        cls = identical ? 'same' : 'differs';
        if (identical) same += 1;
      } else {
        verdict = 'could not fetch it: ' + await apiError(res);
      }
    }
    tr.dataset.same = String(cls === 'same');
    for (const [text, c] of [[here.name], [here.width + '×' + here.height], [String(here.data.length)], [verdict, cls]]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (c) td.className = c;
      tr.append(td);
    }
    rows.push(tr);
  }
  $('compare-rows').replaceChildren(...rows);
  $('compare').hidden = false;
  $('compare').dataset.same = String(same);
}

async function runOnLattice() {
  status('Uploading the same image to the lattice…');
  const variants = specs();
  const res = await apiFetch('/images', { method: 'POST', headers: { 'content-type': source.type || 'application/octet-stream' }, body: source.bytes });
  if (!res.ok) { status('The lattice did not take the image: ' + await apiError(res), true); return; }
  const accepted = await res.json();
  if (JSON.stringify(variants) !== JSON.stringify(DEFAULT_VARIANTS) && $('variants').value.trim()) {
    status('Note: uploads use the server\'s configured variants; comparing those that share a name.');
  }
  for (let i = 0; i < 600; i++) {
    const r = await apiFetch('/images/' + accepted.id);
    if (r.ok) {
      job = await r.json();
      if (job.status === 'done' || job.status === 'failed') break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!job || job.status !== 'done') { status('The lattice job ' + accepted.id + ' ended ' + (job ? job.status + ': ' + job.error : 'unknown'), true); return; }
  status('The lattice rendered job ' + job.id + '.');
  await compareWithLattice();
}

$('form').addEventListener('submit', (e) => { e.preventDefault(); runHere(); });
$('server').addEventListener('click', () => runOnLattice());

$('variants').value = JSON.stringify(DEFAULT_VARIANTS, null, 1);
const params = new URLSearchParams(location.search);
await loadComponent();
if (params.get('job')) await loadJob(params.get('job'));
