import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { launchBrowser, watchPage } from './support/browser.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

test('in Chromium, ORT-web WebGPU: the unsplit tiny exports and their packs give the same noise prediction', async () => {
  const page = await browser.newPage();
  const watched = watchPage(page);
  await page.goto(`${inject('studioUrl')}checks.html`);
  await page.waitForFunction(() => window.__LETHE_CHECKS__?.rows || window.__LETHE_CHECKS__?.error, null, { timeout: 170_000, polling: 250 });
  const result = await page.evaluate(() => window.__LETHE_CHECKS__!);
  expect(result.error).toBeUndefined();
  const rows = result.rows!;
  expect(rows.map((r) => `${r.preset} ${r.dtype}`)).toEqual(expect.arrayContaining(['tiny-sd15 fp32', 'tiny-sd21 fp32']));
  for (const row of rows) {
    expect(row.runner).toMatch(/WebGPU/);
    expect(row.maxAbsValue).toBeGreaterThan(0.1);
    expect(row.maxAbsDiff, `${row.preset} ${row.dtype}`).toBeLessThan(row.tolerance);
  }
  // fp16 runs only where the adapter has shader-f16; SwiftShader does not.
  for (const line of result.skipped ?? []) console.log(`skipped: ${line}`);
  expect(watched.errors).toEqual([]);
}, 180_000);
