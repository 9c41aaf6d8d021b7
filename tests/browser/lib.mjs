// Shared by the browser tests: playwright-core from $PIXELBUS_NODE (scripts/setup installs it
// outside the clone) driving Debian's chromium. No browser is ever downloaded.
import { createRequire } from 'node:module';
import { join } from 'node:path';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the e2e harness sets it)`);
  return value;
}

export async function launch() {
  const require = createRequire(join(env('PIXELBUS_NODE'), 'node_modules', 'noop.js'));
  const { chromium } = require('playwright-core');
  // A closed network: no background connections, no QUIC, no sync; root needs --no-sandbox.
  const browser = await chromium.launch({
    executablePath: env('PIXELBUS_CHROMIUM'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // launch() gives the browser a new, empty profile of its own and removes it on close.
  const close = () => browser.close();
  return { browser, close };
}

// Console errors and failed page scripts make a test fail: they are what a user would hit.
export function watchPage(page, problems) {
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error' && !/the server responded with a status of 4/.test(msg.text())) problems.push(`console: ${msg.text()}`); });
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export async function run(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`${name}: ok in ${Date.now() - started} ms`);
  } catch (err) {
    console.error(`${name}: FAILED: ${err.stack || err}`);
    process.exitCode = 1;
  }
}
