import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { launchBrowser, watchPage } from './support/browser.ts';
import { generatePair, testingUrl } from './support/studio-page.ts';

const studioUrl = inject('studioUrl');
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('studio in headless Chromium', () => {
  test('is cross-origin isolated, shows the adapter, and passes the kernel self-test from the worker', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const watched = watchPage(page);
    await page.goto(testingUrl(studioUrl));
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    const panel = page.getByTestId('adapter-panel');
    await panel.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('adapter-vendor').textContent()).toMatch(/\S/);
    // The page itself never creates a GPU device: only the worker does. The self-test lives in the diagnostics drawer.
    await page.getByTestId('diagnostics-open').click();
    await page.getByTestId('self-test-run').click();
    const results = page.getByTestId('self-test-results');
    await results.waitFor({ timeout: 120_000 });
    const rows = await results.locator('tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(6);
    expect(await results.getAttribute('data-all-passed')).toBe('true');
    await page.getByTestId('diagnostics-close').click();
    // The demo pack is preloaded; a pair on screen makes the README's picture.
    await page.getByTestId('model-summary').waitFor({ timeout: 120_000 });
    await generatePair(page, { prompt: 'a painting of a cat', seed: 7, steps: 2 });
    const folder = process.env.LETHE_UPDATE_SCREENSHOT === '1' ? 'docs' : 'test-results';
    mkdirSync(folder, { recursive: true });
    await page.screenshot({ path: `${folder}/screenshot.png`, fullPage: true });
    expect(watched.errors).toEqual([]);
    await page.close();
  });

  test('without a WebGPU adapter the studio says what to do instead of failing silently', async () => {
    // Linux Chromium without --enable-unsafe-webgpu: navigator.gpu exists, requestAdapter() gives null.
    const noGpu = await launchBrowser({ webgpu: false });
    try {
      const page = await noGpu.newPage();
      await page.goto(studioUrl);
      const message = page.getByTestId('webgpu-unavailable');
      await message.waitFor({ timeout: 60_000 });
      const text = (await message.textContent()) ?? '';
      expect(text).toMatch(/no GPU adapter/);
      expect(text).toMatch(/enable-unsafe-webgpu/);
      await page.getByTestId('diagnostics-open').click();
      expect(await page.getByTestId('self-test-run').isDisabled()).toBe(true);
    } finally {
      await noGpu.close();
    }
  });
});
