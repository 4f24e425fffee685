import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { launchBrowser } from './support/browser.ts';
import type { OpfsScenarioResult } from './support/opfs-cache-scenario.ts';

// The browser cache's two write paths: in place (sync access handle, the engine's worker) and
// createWritable with checkpoints (the page). Both resume, store exact bytes, discard bad ones.
const studioUrl = inject('studioUrl');
let browser: Browser;
let page: Page;
let bundle: string;

beforeAll(async () => {
  const built = await build({
    entryPoints: ['tests/e2e/support/opfs-cache-scenario.ts'],
    bundle: true,
    format: 'iife',
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  });
  bundle = built.outputFiles[0].text;
  browser = await launchBrowser({ webgpu: false });
  page = await browser.newPage();
  // Any page of the studio's origin: OPFS needs an origin.
  await page.goto(`${studioUrl}favicon.svg`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

function expectCacheWorked(result: OpfsScenarioResult): void {
  expect(result.resumedOffset).toBe(result.interruptedAt);
  expect(result.storedBytes).toBe(3 * 1024 * 1024 + 17);
  expect(result.sameBytes).toBe(true);
  expect(result.integrityError).toMatch(
    /^vae_decoder\/model\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64} \(1000 bytes\); the download was discarded$/,
  );
  expect(result.badBlobKept).toBe(false);
  // The partial of the bad blob is gone: only the good blob's bytes remain.
  expect(result.cacheBytes).toBe(result.storedBytes);
}

test('in a dedicated worker, writes go in place and a write resumes where it stopped', async () => {
  const outcome = await page.evaluate(async (code) => {
    const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    const reply = await new Promise<{ result?: unknown; error?: string }>((resolve) => {
      worker.onmessage = (event) => resolve(event.data as { result?: unknown; error?: string });
      worker.postMessage('lethe-cache-worker');
    });
    worker.terminate();
    return reply;
  }, bundle);
  expect(outcome.error).toBeUndefined();
  const result = outcome.result as OpfsScenarioResult;
  expect(result.inPlace).toBe(true);
  expectCacheWorked(result);
}, 120_000);

test('on the page, writes go through createWritable with checkpoints, with the same results', async () => {
  // The page is an SVG document (no <head> for a script tag): the bundle runs by indirect eval.
  await page.evaluate((code) => void (0, eval)(code), bundle);
  const result = await page.evaluate(() =>
    (window as unknown as { runOpfsScenario(folder: string): Promise<OpfsScenarioResult> }).runOpfsScenario('lethe-cache-page'),
  );
  expect(result.inPlace).toBe(false);
  expectCacheWorked(result);
}, 120_000);
