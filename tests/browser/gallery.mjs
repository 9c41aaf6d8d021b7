// The gallery (GET /) in Debian's chromium against a real lattice: the token prompt, two real
// photos and a text file uploaded at once, two thumbnails and one plain-words error, a variant
// opened, keyboard use of the job cards and the dialog, one job deleted. Screenshots are kept
// in $PIXELBUS_ARTIFACTS.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import { launch, watchPage, check, env, run } from './lib.mjs';

const base = env('PIXELBUS_BASE_URL');
const token = env('PIXELBUS_API_TOKEN');
const photos = env('PIXELBUS_PHOTOS').split(':');
const artifacts = env('PIXELBUS_ARTIFACTS');
mkdirSync(artifacts, { recursive: true });

async function jobIds() {
  const res = await fetch(`${base}/images?limit=100`);
  return new Set((await res.json()).jobs.map((j) => j.id));
}

await run('browser gallery', async () => {
  check(photos.length >= 2, 'PIXELBUS_PHOTOS names two photos');
  const text = join(artifacts, 'notes.txt');
  writeFileSync(text, 'these are notes, not an image\n');
  const before = await jobIds();
  const { browser, close } = await launch();
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    watchPage(page, problems);
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'pixelbus' }).waitFor();

    // Without a token: the upload is refused in plain words and the page asks for the token.
    await page.getByLabel('Images to upload').setInputFiles([photos[0]]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('#messages li.error', { hasText: 'needs its API token' }).waitFor();
    const tokenInput = page.getByLabel(/API token/);
    await tokenInput.waitFor();
    check(await tokenInput.evaluate((el) => el === document.activeElement), 'the token field has the focus');
    await tokenInput.fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
    check(await page.evaluate(() => sessionStorage.getItem('pixelbus-token')) === token, 'the token is kept in session storage');
    check((await jobIds()).size === before.size, 'the refused upload stored no job');

    // Two photos and a text file at once.
    await page.getByLabel('Images to upload').setInputFiles([photos[0], photos[1], text]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const refusal = page.locator('#messages li.error', { hasText: 'notes.txt' });
    await refusal.waitFor({ timeout: 30_000 });
    const refusalText = await refusal.textContent();
    check(/not an image pixelbus can read/.test(refusalText) && /JPEG, PNG, GIF and WebP/.test(refusalText), `the refusal says why: ${refusalText}`);
    for (const photo of photos.slice(0, 2)) {
      await page.locator('#messages li:not(.error)', { hasText: basename(photo) }).waitFor({ timeout: 30_000 });
    }

    // Two new cards whose thumbnails load.
    let mine = [];
    await page.waitForFunction((known) => {
      const cards = [...document.querySelectorAll('#jobs button.card')].filter((c) => !known.includes(c.dataset.job));
      return cards.length === 2 && cards.every((c) => {
        const img = c.querySelector('img');
        return c.querySelector('.status').textContent === 'done' && img && img.complete && img.naturalWidth > 0;
      });
    }, [...before], { timeout: 60_000, polling: 250 });
    mine = await page.$$eval('#jobs button.card', (cards, known) => cards.filter((c) => !known.includes(c.dataset.job)).map((c) => ({
      id: c.dataset.job, alt: c.querySelector('img').alt, width: c.querySelector('img').naturalWidth, height: c.querySelector('img').naturalHeight,
    })), [...before]);
    check(mine.length === 2, `two new jobs, not ${JSON.stringify(mine)}`);
    for (const card of mine) {
      check(/^thumbnail of job /.test(card.alt), `alt text: ${card.alt}`);
      check(Math.max(card.width, card.height) === 128, `a 128 px thumbnail: ${JSON.stringify(card)}`);
    }
    check((await jobIds()).size === before.size + 2, 'exactly two jobs were stored (the text file none)');
    await page.screenshot({ path: join(artifacts, 'gallery.png'), fullPage: true });

    // Keyboard: Enter on a card opens its dialog, Escape closes it and gives the focus back.
    const first = page.locator(`#jobs button.card[data-job="${mine[0].id}"]`);
    await first.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    check(await first.evaluate((el) => el === document.activeElement), 'the focus is back on the card');

    // Open a variant from the dialog: it is the size the table says.
    await first.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    const rows = dialog.locator('#detail-variants tr');
    await rows.nth(2).waitFor();
    check(await rows.count() === 3, 'three variants listed');
    const small = rows.filter({ hasText: 'small' });
    const [w, h] = (await small.locator('td').nth(1).textContent()).split('×').map(Number);
    await page.screenshot({ path: join(artifacts, 'gallery-detail.png'), fullPage: true });
    const [popup] = await Promise.all([page.context().waitForEvent('page'), small.getByRole('link', { name: 'small' }).click()]);
    await popup.waitForLoadState();
    const size = await popup.evaluate(() => { const img = document.images[0]; return img && [img.naturalWidth, img.naturalHeight]; });
    check(size && size[0] === w && size[1] === h, `the opened variant is ${JSON.stringify(size)}, the table says ${w}×${h}`);
    await popup.close();

    // Delete it: the card goes, and so does the job.
    await dialog.getByRole('button', { name: 'Delete this job' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator(`#jobs button.card[data-job="${mine[0].id}"]`).waitFor({ state: 'detached' });
    await page.locator('#messages li', { hasText: 'deleted' }).waitFor();
    const gone = await fetch(`${base}/images/${mine[0].id}`);
    check(gone.status === 404, `the deleted job answers ${gone.status}`);
    const kept = await fetch(`${base}/images/${mine[1].id}`);
    check(kept.status === 200, `the other job answers ${kept.status}`);
    await page.screenshot({ path: join(artifacts, 'gallery-after-delete.png'), fullPage: true });
    check(problems.length === 0, `the page reported problems:\n${problems.join('\n')}`);
    console.log(`browser gallery: jobs ${mine.map((m) => m.id).join(', ')}; screenshots in ${artifacts}`);
  } finally {
    await close();
  }
});
