import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { pixelsEqual } from '../../src/app/image-compare.ts';
import { launchBrowser, watchPage } from './support/browser.ts';
import { currentEditId, fillGenerateForm, generatePair, testingUrl, waitForEditedImage } from './support/studio-page.ts';

// Fine-tuning in the studio, on the concept-world demo: erase "cat", start RealEra noise alignment
// on its closed-form edit (3 steps, a checkpoint and a refreshed "after" image every step), watch
// the chart, the step counter and the preview move, reload the page mid-run, resume the saved run,
// finish it, download the LoRA, open that file again and get the same after-image, pixel for
// pixel, as the run's last preview. One DDIM step at guidance 1 keeps every image cheap here.
const studioUrl = inject('studioUrl');
const shots = process.env.LETHE_UPDATE_SCREENSHOT === '1' ? 'docs' : 'test-results';
const SETTINGS = { prompt: 'a photo of a cat', seed: 1, steps: 1, guidance: 1 };
const LONG = 600_000;
// One wait inside a test: shorter than the test, so that a timeout names the line that waited.
const WAIT = 300_000;
let browser: Browser;
let page: Page;
let errors: string[];

async function openStudio(): Promise<void> {
  await page.getByTestId('model-summary').waitFor({ timeout: LONG });
  await page.getByTestId('training-panel').waitFor({ timeout: 60_000 });
}

async function previewPixels(): Promise<{ step: number; rgba: Uint8ClampedArray }> {
  const view = await page.evaluate(() => {
    const figure = document.querySelector('[data-testid=training-preview]');
    const canvas = figure?.querySelector('canvas');
    if (!figure || !canvas) throw new Error('no training preview on the page');
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    return { step: Number(figure.getAttribute('data-step')), rgba: Array.from(data) };
  });
  return { step: view.step, rgba: Uint8ClampedArray.from(view.rgba) };
}

beforeAll(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  ({ errors } = watchPage(page));
  await page.goto(testingUrl(studioUrl, null));
  await openStudio();
}, LONG);
afterAll(async () => {
  await browser?.close();
});

describe('fine-tuning in the studio (concept-world demo)', () => {
  let lastPreview: Uint8ClampedArray;
  let downloaded: string;

  test('a run shows its loss, rate and "after" preview; after a reload it resumes from its checkpoint and finishes', async () => {
    await fillGenerateForm(page, SETTINGS);
    await page.getByTestId('grid-seeds').selectOption('1');
    await page.getByTestId('concept').fill('cat');
    await page.getByTestId('erase-button').click();
    await page.waitForFunction(() => (window.__lethe?.editId ?? null) !== null, null, { timeout: LONG, polling: 100 });

    await page.getByTestId('training-objective').selectOption('realera');
    await page.getByTestId('training-steps').fill('3');
    await page.getByTestId('training-learningRate').fill('0.01');
    await page.getByTestId('training-rank').fill('2');
    await page.getByTestId('training-latentSteps').fill('1');
    await page.getByTestId('training-every').fill('1');
    await page.getByTestId('training-start').click();

    // Step 1: the chart, the step counter and the after image of the LoRA after one step.
    await page.waitForSelector('[data-testid=training-preview][data-step="1"]', { timeout: LONG });
    await page.getByTestId('training-loss-chart').waitFor();
    expect(await page.getByTestId('training-rate').textContent()).toMatch(/step [12] \/ 3 · [\d.]+ steps\/s · ETA/);
    expect(await page.getByTestId('training-preview').textContent()).toMatch(/after · RealEra noise alignment LoRA at step 1 · seed 1/);
    await page.getByTestId('training-panel').screenshot({ path: `${shots}/studio-training.png` });

    // Mid-run (the checkpoint of step 1 is written before its progress arrives): reload.
    await page.reload();
    await openStudio();
    const resumeSaved = page.getByTestId('training-resume-saved');
    await resumeSaved.waitFor({ timeout: 120_000 });
    expect(await resumeSaved.textContent()).toMatch(/Resume saved run \(RealEra noise alignment, step [12] of 3\)/);
    await fillGenerateForm(page, SETTINGS);
    await resumeSaved.click();
    const done = page.getByTestId('training-done');
    await done.getByText(/is now the current edit/).waitFor({ timeout: LONG });
    expect(await done.textContent()).toMatch(/Trained 3 steps \(resumed at [12]\)/);
    // The saved losses and the new ones: one chart point per step.
    const preview = await previewPixels();
    expect(preview.step).toBe(3);
    lastPreview = preview.rgba;

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('training-download').click()]);
    downloaded = join(mkdtempSync(join(tmpdir(), 'lethe-training-e2e-')), download.suggestedFilename());
    await download.saveAs(downloaded);
    expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
  }, 1_800_000);

  test('the trained LoRA is the current edit; the downloaded file, opened again, makes the same after image', async () => {
    const trainedEdit = await currentEditId(page);
    expect(trainedEdit).not.toBeNull();
    const pair = await generatePair(page, SETTINGS, WAIT);
    expect(pair.editedEditId).toBe(trainedEdit);
    expect(pixelsEqual(pair.edited, lastPreview)).toBe(true);

    // Cleared, then the downloaded file opened: the same bytes are the same edit (its id hashes them).
    await page.getByTestId('clear-edit').click();
    await page.waitForFunction(() => window.__lethe !== undefined && window.__lethe.editId === null, null, { timeout: WAIT, polling: 100 });
    await page.getByTestId('lora-open').setInputFiles({ name: 'reopened.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(downloaded) });
    await page.waitForFunction((id) => window.__lethe?.editId === id, trainedEdit, { timeout: WAIT, polling: 100 });
    const reopened = await currentEditId(page);
    await waitForEditedImage(page, reopened, WAIT);
    const again = await generatePair(page, SETTINGS, WAIT);
    expect(again.editedEditId).toBe(reopened);
    expect(pixelsEqual(again.edited, lastPreview)).toBe(true);
    expect(pixelsEqual(again.original, pair.original)).toBe(true);
    expect(errors).toEqual([]);
  }, LONG);
});
