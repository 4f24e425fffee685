import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { pixelsEqual } from '../../src/app/image-compare.ts';
import { launchBrowser } from './support/browser.ts';
import { generatePair, lastPair, openStudioWithDemoPack } from './support/studio-page.ts';

// The demo pack on SwiftShader costs ~10 s per image whatever the step count (encode and decode
// dominate), so each test makes as few images as it can.
const studioUrl = inject('studioUrl');
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchBrowser();
  ({ page, errors } = await openStudioWithDemoPack(browser, studioUrl));
});
afterAll(async () => {
  await browser?.close();
});

describe('generation panel on the demo pack', () => {
  let first: Awaited<ReturnType<typeof lastPair>>;

  test('with no edit the erased image is generated and pixel-identical to the original', async () => {
    expect(await page.getByTestId('edit-summary').getAttribute('data-edit-id')).toBe('');
    first = await generatePair(page, { prompt: 'a photo of a cat', seed: 1234, steps: 2, guidance: 7.5 });
    expect(first.seed).toBe(1234);
    expect(first.editedEditId).toBeNull();
    expect(first.original.length).toBe(first.width! * first.height! * 4);
    expect(pixelsEqual(first.original, first.edited)).toBe(true);
    // Not a blank canvas: a real image has many distinct values.
    expect(new Set(first.original).size).toBeGreaterThan(50);
    expect(await page.getByTestId('image-compare').getAttribute('data-identical')).toBe('true');
    expect(await page.getByTestId('edited-edit').textContent()).toMatch(/no edit active/);
    // The canvases show exactly these pixels.
    const drawn = await page.getByTestId('image-original').evaluate((canvas: HTMLCanvasElement) => Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data));
    expect(pixelsEqual(Uint8ClampedArray.from(drawn), first.original)).toBe(true);
    expect(await page.getByTestId('progress-original').getAttribute('data-step')).toBe('2');
  });

  test('the same seed twice gives identical pixels', async () => {
    const again = await generatePair(page, { seed: 1234 });
    expect(again.originalJob).not.toBe(first.originalJob);
    expect(pixelsEqual(again.original, first.original)).toBe(true);
    expect(pixelsEqual(again.edited, first.edited)).toBe(true);
    // History: two pairs, newest shown; clicking the first shows it again.
    const items = page.getByTestId('history-item');
    expect(await items.count()).toBe(2);
    await items.last().click();
    const shown = await lastPair(page);
    expect(shown.originalJob).toBe(first.originalJob);
    expect(pixelsEqual(shown.original, first.original)).toBe(true);
    expect(await page.getByTestId('pair-caption').textContent()).toMatch(/seed 1234/);
  });

  test('Cancel stops within one step: state cancelled, step count frozen, the edited image not started', async () => {
    await page.getByTestId('steps').fill('50');
    await page.getByTestId('seed').fill('7');
    await page.getByTestId('generate').click();
    const progress = page.getByTestId('progress-original');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=progress-original]')?.getAttribute('data-step')) >= 2, null, { timeout: 60_000, polling: 50 });
    // Read the step and press Cancel in one task, so no progress message lands in between.
    const atCancel = await page.evaluate(() => {
      const step = Number(document.querySelector('[data-testid=progress-original]')!.getAttribute('data-step'));
      (document.querySelector('[data-testid=cancel]') as HTMLButtonElement).click();
      return step;
    });
    await page.locator('[data-testid=image-original][data-state=cancelled]').waitFor({ timeout: 30_000 });
    const stopped = Number(await progress.getAttribute('data-step'));
    expect(stopped).toBeGreaterThanOrEqual(atCancel);
    expect(stopped).toBeLessThanOrEqual(atCancel + 1);
    expect(await page.getByTestId('image-edited').getAttribute('data-state')).toBe('cancelled');
    await page.waitForTimeout(2_000);
    expect(Number(await progress.getAttribute('data-step'))).toBe(stopped);
    expect(await page.getByTestId('generate').isEnabled()).toBe(true);
    expect(await page.getByTestId('cancel').isDisabled()).toBe(true);
    expect(errors).toEqual([]);
  });
});
