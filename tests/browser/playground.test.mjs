// The playground page in headless Chromium: it loads from the binary, lists the store,
// and after a change of width and format shows an image of that size and type.
// usage: node playground.test.mjs IMAGEFLEX FIXTURE_DIR SCREENSHOT CHROMIUM
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [binary, fixtures, screenshot, executablePath] = process.argv.slice(2);

// A fresh folder store with two originals.
const root = mkdtempSync(join(tmpdir(), 'imageflex-playground-'));
for (const name of ['landscape.jpg', 'portrait_exif6.jpg']) copyFileSync(join(fixtures, name), join(root, name));

// The real server on a free port; its "listening" line names the port.
const server = spawn(binary, ['serve', '--root', root, '--listen', '127.0.0.1:0', '--playground', 'true',
  '--access-log', 'false'], { stdio: ['ignore', 'pipe', 'pipe'] });
const origin = await new Promise((resolve, reject) => {
  let seen = '';
  const timer = setTimeout(() => reject(new Error('server did not start: ' + seen)), 20000);
  const read = (chunk) => {
    seen += chunk;
    const match = seen.match(/listening on (http:\/\/[0-9.]+:[0-9]+)/);
    if (match) {
      clearTimeout(timer);
      resolve(match[1]);
    }
  };
  server.stdout.on('data', read);
  server.stderr.on('data', read);
  server.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + seen)));
});

let browser;
try {
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const outside = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin + '/') && !url.startsWith('blob:')) outside.push(url);
  });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));

  await page.goto(origin + '/_imageflex/playground');
  // The first original is picked and shown at the default width.
  const result = page.locator('#result');
  await page.waitForFunction(() => document.querySelector('#result').dataset.width === '320', null, { timeout: 30000 });
  assert.equal(await page.locator('#keys button').count(), 2);

  // A new width and a format: the image shown has that width and type.
  await page.fill('#param-w', '200');
  await page.selectOption('#param-f', 'webp');
  await page.waitForFunction(() => {
    const figure = document.querySelector('#result');
    return figure.dataset.width === '200' && figure.dataset.type === 'image/webp';
  }, null, { timeout: 30000 });
  const shown = await result.locator('img').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  // The height follows the original's aspect ratio (landscape.jpg is the first key).
  await page.waitForFunction(() => document.querySelector('#original').dataset.width, null, { timeout: 30000 });
  const original = await page.locator('#original').evaluate((f) => [Number(f.dataset.width), Number(f.dataset.height)]);
  assert.deepEqual(shown, [200, Math.round((200 * original[1]) / original[0])]);
  assert.match(await page.inputValue('#url'), /\/landscape\.jpg\?w=200&f=webp$/);
  // Beside it: the same request in AVIF, WebP and JPEG, and the original.
  for (const [format, type] of [['avif', 'image/avif'], ['webp', 'image/webp'], ['jpeg', 'image/jpeg']]) {
    await page.waitForFunction(([f, t]) => {
      const figure = document.querySelector(`figure[data-format="${f}"]`);
      return figure.dataset.type === t && figure.dataset.width === '200';
    }, [format, type], { timeout: 30000 });
  }
  await page.screenshot({ path: screenshot, fullPage: true });

  assert.deepEqual(outside, [], 'requests outside the server');
  assert.deepEqual(errors, [], 'page errors');
  console.log('playground: ok; screenshot ' + screenshot);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
}
