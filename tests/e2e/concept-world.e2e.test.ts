import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../../src/evaluation/judges/concept-world-judge.ts';
import type { Judge } from '../../src/evaluation/judges/judge.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';
import { launchBrowser } from './support/browser.ts';
import { currentEditId, generatePair, lastPair, openModelChooser, openStudioWithDemoPack, waitForEditedImage } from './support/studio-page.ts';

// The concept-world demo in the studio: "a neon image showing a cat" is drawn in neon (the judge's
// style head says so); erasing "neon" with the closed form draws the same seed in another style,
// while a pencil sketch stays a pencil sketch. The page's pixels are judged here, in Node, by the
// same ONNX the studio ships. (The model has learned the styles, not yet the objects.)
const studioUrl = inject('studioUrl');
const shots = process.env.LETHE_UPDATE_SCREENSHOT === '1' ? 'docs/concept-world' : 'test-results';
const SEED = 1;
let browser: Browser;
let page: Page;
let errors: string[];
let judge: Judge;

beforeAll(async () => {
  browser = await launchBrowser();
  ({ page, errors } = await openStudioWithDemoPack(browser, studioUrl));
  const labels = parseConceptWorldLabels(JSON.parse(readFileSync('public/concept-world/judge.json', 'utf8')) as unknown, 'judge.json');
  judge = await createConceptWorldJudge(new NodeOnnxRunner(), new Uint8Array(readFileSync('public/concept-world/judge.onnx')), labels, { head: 'style_logits' });
  const summary = page.getByTestId('model-summary');
  const before = await summary.getAttribute('data-pack-id');
  await openModelChooser(page);
  await page.getByTestId('demo-preset').selectOption('concept-world');
  await page.getByTestId('model-load').click();
  await page.waitForFunction((id) => document.querySelector('[data-testid=model-summary]')?.getAttribute('data-pack-id') !== id, before, { timeout: 300_000, polling: 200 });
}, 600_000);
afterAll(async () => {
  await browser?.close();
  await judge?.release();
});

async function judged(rgba: Uint8ClampedArray): Promise<string> {
  const [probabilities] = await judge.classify([{ width: 64, height: 64, rgba }]);
  return judge.labels[probabilities.indexOf(Math.max(...probabilities))];
}

describe('the concept-world demo in the studio', () => {
  test('neon, erased; pencil sketch, kept', async () => {
    const neon = await generatePair(page, { prompt: 'a neon image showing a cat', seed: SEED, steps: 20, guidance: 7.5 }, 300_000);
    expect(await judged(neon.original)).toBe('neon');

    await page.getByTestId('concept').fill('neon');
    await page.getByTestId('erase-button').click();
    await page.waitForFunction(() => (window.__lethe?.editId ?? null) !== null, null, { timeout: 120_000, polling: 100 });
    const editId = await currentEditId(page);
    await waitForEditedImage(page, editId, 300_000);
    const erased = await lastPair(page);
    expect(await judged(erased.edited)).not.toBe('neon');
    await page.screenshot({ path: `${shots}/studio-erase-neon.png` });

    const sketch = await generatePair(page, { prompt: 'a pencil sketch image showing a horse', seed: SEED, steps: 20, guidance: 7.5 }, 300_000);
    expect(await judged(sketch.original)).toBe('pencil sketch');
    expect(await judged(sketch.edited)).toBe('pencil sketch');
    expect(errors).toEqual([]);
  }, 900_000);
});
