import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { LethePairView } from '../../../src/app/test-hooks.ts';
import type { DemoPreset } from '../../../src/engine/api.ts';
import { watchPage } from './browser.ts';

/**
 * Driving the studio's generate/erase screens. `?testing` turns on window.__lethe in the
 * production build (see src/app/test-hooks.ts), so pixels are compared exactly, not by screenshot.
 */

/**
 * The studio with test hooks on, opening the given built-in demo through the URL as a shared link
 * would (the tests that compare pixels with Node need the tiny SD 1.5-shaped pack, not the
 * concept world a user gets by default); null leaves the choice to the studio.
 */
export function testingUrl(studioUrl: string, demo: DemoPreset | null = 'tiny-sd15'): string {
  const url = new URL(studioUrl);
  url.searchParams.set('testing', '1');
  if (demo !== null) url.hash = `model=${encodeURIComponent(`demo:${demo}`)}`;
  return url.toString();
}

/** Opens the studio with the built-in demo pack loaded (loading it unless the studio already did). */
export async function openStudioWithDemoPack(browser: Browser, studioUrl: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const { errors } = watchPage(page);
  await page.goto(testingUrl(studioUrl));
  await page.getByTestId('adapter-panel').waitFor({ timeout: 60_000 });
  const summary = page.getByTestId('model-summary');
  const load = page.getByTestId('model-load');
  // The studio may preload the demo pack itself; otherwise load it (demo is the default choice).
  await page.waitForTimeout(500);
  if ((await summary.count()) === 0 && (await load.isEnabled())) await load.click();
  await summary.waitFor({ timeout: 180_000 });
  expect(await summary.getAttribute('data-family')).toBe('tiny-sd15');
  return { page, errors };
}

/** Unfolds the model source choice, which folds away once a model is loaded. */
export async function openModelChooser(page: Page): Promise<void> {
  const change = page.getByTestId('model-change');
  if ((await change.count()) > 0 && (await change.getAttribute('aria-expanded')) !== 'true') await change.click();
}

export interface PairOptions {
  prompt?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
}

export async function fillGenerateForm(page: Page, options: PairOptions): Promise<void> {
  if (options.prompt !== undefined) await page.getByTestId('prompt').fill(options.prompt);
  if (options.seed !== undefined) await page.getByTestId('seed').fill(String(options.seed));
  if (options.steps !== undefined) await page.getByTestId('steps').fill(String(options.steps));
  if (options.guidance !== undefined) await page.getByTestId('guidance').fill(String(options.guidance));
}

/** Presses Generate and waits for both images of the new pair. */
export type PairPixels = Omit<LethePairView, 'original' | 'edited'> & { original: Uint8ClampedArray; edited: Uint8ClampedArray };

export async function generatePair(page: Page, options: PairOptions = {}, timeout = 120_000): Promise<PairPixels> {
  await fillGenerateForm(page, options);
  const previous = await page.getByTestId('pair').getAttribute('data-pair-id');
  await page.getByTestId('generate').click();
  await page.waitForFunction(
    (prev) => {
      const pair = document.querySelector('[data-testid=pair]');
      const edited = document.querySelector('[data-testid=image-edited]');
      return pair?.getAttribute('data-pair-id') !== prev && ['done', 'error', 'cancelled'].includes(edited?.getAttribute('data-state') ?? '');
    },
    previous,
    { timeout, polling: 100 },
  );
  expect(await page.getByTestId('image-original').getAttribute('data-state')).toBe('done');
  expect(await page.getByTestId('image-edited').getAttribute('data-state')).toBe('done');
  return lastPair(page);
}

/** The pair on show, with RGBA as plain arrays (what survives page.evaluate). */
export async function lastPair(page: Page): Promise<PairPixels> {
  const view = await page.evaluate(() => {
    const pair = window.__lethe?.lastPair;
    if (!pair) throw new Error('window.__lethe.lastPair is missing: is ?testing in the URL?');
    return { ...pair, original: pair.original ? Array.from(pair.original) : null, edited: pair.edited ? Array.from(pair.edited) : null };
  });
  if (!view.original || !view.edited) throw new Error(`the pair is incomplete (original ${view.originalState}, edited ${view.editedState})`);
  return { ...view, original: Uint8ClampedArray.from(view.original), edited: Uint8ClampedArray.from(view.edited) };
}

/** Waits until the erased image was regenerated for edit `editId` (null: no edit). */
export async function waitForEditedImage(page: Page, editId: string | null, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    (id) => {
      const pair = window.__lethe?.lastPair;
      return pair?.editedState === 'done' && pair.editedEditId === id;
    },
    editId,
    { timeout, polling: 100 },
  );
}

export async function currentEditId(page: Page): Promise<string | null> {
  return page.evaluate(() => window.__lethe?.editId ?? null);
}
