import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { compareRgba, pixelsEqual } from '../../src/app/image-compare.ts';
import { launchBrowser, watchPage } from './support/browser.ts';
import { currentEditId, fillGenerateForm, generatePair, lastPair, testingUrl, waitForEditedImage, type PairPixels } from './support/studio-page.ts';

// The engine worker is terminated (as an out-of-memory kill would) while it generates. The studio
// must say so, start a new worker, reload the pack from the cache, restore the edit from its
// recipe, and then make the same erased image, pixel for pixel, as before the crash.
const studioUrl = inject('studioUrl');
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  ({ errors } = watchPage(page));
  await page.goto(testingUrl(studioUrl));
  // The studio opens with the built-in demo pack loading.
  await page.getByTestId('model-summary').waitFor({ timeout: 600_000 });
}, 900_000);
afterAll(async () => {
  await browser?.close();
});

const workersStarted = () => page.evaluate(() => window.__letheEngine?.workersStarted ?? 0);
// SwiftShader on a shared 2-core machine: an image can take minutes.
const IMAGE_TIMEOUT = 300_000;
const TEST_TIMEOUT = 600_000;
const settings = { prompt: 'a photo of a cat', seed: 31, steps: 2, guidance: 1 };

describe('the engine worker dies mid-generation', () => {
  let before: PairPixels;
  let editId: string;

  test('an erased pair before the crash', async () => {
    await generatePair(page, settings, IMAGE_TIMEOUT);
    // The erase starts filling the comparison grid, whose images share the engine with this test's.
    await page.getByTestId('grid-seeds').selectOption('1');
    await page.getByTestId('concept').fill('cat');
    await page.getByTestId('erase-button').click();
    await page.waitForFunction(() => (window.__lethe?.editId ?? null) !== null, undefined, { timeout: 60_000, polling: 100 });
    editId = (await currentEditId(page))!;
    await waitForEditedImage(page, editId, IMAGE_TIMEOUT);
    before = await lastPair(page);
    expect(compareRgba(before.original, before.edited).identical).toBe(false);
    expect(await workersStarted()).toBe(1);
  }, TEST_TIMEOUT);

  test('terminated while generating: the studio says so, restarts the worker, reloads the pack and restores the edit', async () => {
    await fillGenerateForm(page, { ...settings, steps: 6 });
    const previous = await page.getByTestId('pair').getAttribute('data-pair-id');
    await page.getByTestId('generate').click();
    // Mid-generation: the new pair's first image is running.
    await page.waitForFunction(
      (prev) => document.querySelector('[data-testid=pair]')?.getAttribute('data-pair-id') !== prev && document.querySelector('[data-testid=image-original]')?.getAttribute('data-state') === 'running',
      previous,
      { timeout: 60_000, polling: 20 },
    );
    await page.evaluate(() => window.__letheEngine!.terminate());

    // In the notices (the interrupted image says it too, in its own words).
    const notices = page.getByRole('status');
    await notices.getByText(/The engine stopped \(the worker was terminated\)/).waitFor({ timeout: 10_000 });
    const restored = notices.getByText(/The engine was restarted: model .* reloaded from the cache, edit [0-9a-f]{12} restored from its recipe/);
    await restored.waitFor({ timeout: IMAGE_TIMEOUT });
    expect(await restored.count()).toBe(1); // said once
    expect(await workersStarted()).toBe(2);
    // The interrupted image says what happened instead of spinning forever.
    await page.waitForFunction(() => ['error', 'cancelled'].includes(document.querySelector('[data-testid=image-original]')?.getAttribute('data-state') ?? ''), undefined, {
      timeout: 30_000,
    });
    // The pack and the edit the page shows are unchanged.
    expect(await page.getByTestId('model-summary').getAttribute('data-family')).toBe('tiny-sd15');
    expect(await currentEditId(page)).toBe(editId);
  }, TEST_TIMEOUT);

  test('after the restart, the same settings give the same erased image, pixel for pixel', async () => {
    const after = await generatePair(page, settings, IMAGE_TIMEOUT);
    expect(after.editedEditId).toBe(editId);
    expect(pixelsEqual(after.original, before.original)).toBe(true);
    expect(pixelsEqual(after.edited, before.edited)).toBe(true);
    expect(errors).toEqual([]);
  }, TEST_TIMEOUT);
});
