import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { metricsDifference, parseReport, type EvaluationReport } from '../../src/evaluation/report.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { forgeStandInJudge, type StandInJudge } from '../support/forge-judge.ts';
import { launchBrowser } from './support/browser.ts';
import { currentEditId, fillGenerateForm, openStudioWithDemoPack } from './support/studio-page.ts';

// The Evaluate panel on the demo pack, judged by the stand-in classifier served in place of
// concept-world/judge.onnx. Two classes, one template, one seed, one step: 6 images on SwiftShader
// (each 20-40 s on a loaded 2-core machine). The erase starts filling the comparison grid, so the
// evaluation begins while a grid image runs: the judge's session waits for it in the engine's queue
// (onnxruntime-web takes one call at a time; made beside a run it failed with "memory access out
// of bounds" or hung).
const studioUrl = inject('studioUrl');
let browser: Browser;
let page: Page;
let errors: string[];
let downloads: string;
let standIn: StandInJudge;

beforeAll(async () => {
  standIn = await forgeStandInJudge();
  browser = await launchBrowser();
  ({ page, errors } = await openStudioWithDemoPack(browser, studioUrl));
  await page.route('**/concept-world/judge.onnx', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from(standIn.onnx) }));
  await page.route('**/concept-world/judge.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(standIn.json) }));
  downloads = mkdtempSync(join(tmpdir(), 'lethe-e2e-eval-'));
}, 300_000);
afterAll(async () => {
  await browser?.close();
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

async function fillSettings(seeds: number): Promise<void> {
  await page.getByTestId('evaluate-source').selectOption('custom');
  await page.getByTestId('evaluate-classes').fill('cat: kitty\ndog');
  await page.getByTestId('evaluate-seeds').fill(String(seeds));
  await page.getByTestId('evaluate-steps').fill('1');
  await page.getByTestId('evaluate-templates').fill('1');
}

describe('Evaluate panel', () => {
  let report: EvaluationReport;

  test('erase cat, evaluate: progress, a table of original and edit, the chart, the grid; the JSON export is the table', async () => {
    // The grid takes the generate form's sampling settings: 1 step, like the evaluation's images.
    await fillGenerateForm(page, { steps: 1 });
    await page.getByTestId('concept').fill('cat');
    await page.getByTestId('erase-button').click();
    await page.waitForFunction(() => (window.__lethe?.editId ?? null) !== null, null, { timeout: 60_000, polling: 100 });
    const editId = await currentEditId(page);

    await fillSettings(1);
    expect(await page.getByTestId('evaluate-erased').inputValue()).toBe('cat'); // from the edit's concept
    await page.getByTestId('evaluate-run').click();
    await page.getByTestId('evaluate-progress').waitFor({ timeout: 30_000 });
    // The total (2 runs x 3 prompts x 1 seed) comes once the judge is loaded, before the first image;
    // the judge waits for the grid's running image.
    await page.waitForFunction(() => document.querySelector('[data-testid=evaluate-progress]')?.getAttribute('data-total') === '6', null, { timeout: 180_000, polling: 100 });
    // The rest of the grid would take turns with the evaluation's images: stop it (atomically; it may just have finished).
    await page.evaluate(() => (document.querySelector('[data-testid=grid-stop]') as HTMLButtonElement | null)?.click());
    await page.waitForSelector('[data-testid=evaluate-results][data-runs="2"]', { timeout: 420_000 });

    const rows = page.getByTestId('evaluate-row');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute('data-model')).toBe('original');
    expect(await rows.nth(1).getAttribute('data-model')).toBe(editId);
    expect(await page.locator('[data-testid=evaluate-chart] canvas').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('evaluate-grid-image').count()).toBe(2); // "a photo of the cat": before above after

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('evaluate-export-json').click()]);
    const file = join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    report = parseReport(readFileSync(file, 'utf8'), file);
    expect(report.runs.map((r) => r.edit.kind)).toEqual(['original', 'recipe']);
    expect(report.protocol.prompts.map((p) => p.text)).toEqual(['a photo of the cat', 'a photo of the dog', 'a photo of the kitty']);
    // The table shows the report's numbers.
    const cells = await rows.nth(1).locator('td[data-value]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
    const m = report.runs[1].metrics;
    expect(cells).toEqual([m.efficacy.probability, m.specificity.probability, m.generality.probability, m.harmonic.probability]);

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('evaluate-export-csv').click()]);
    expect(csv.suggestedFilename()).toMatch(/\.csv$/);
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('evaluate-export-png').click()]);
    const pngFile = join(downloads, png.suggestedFilename());
    await png.saveAs(pngFile);
    expect([...readFileSync(pngFile).subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');

    await page.getByTestId('evaluate-panel').screenshot({ path: process.env.LETHE_EVAL_SCREENSHOT ?? join(downloads, 'evaluate-panel.png') });
    expect(errors).toEqual([]);
  }, 720_000);

  test('the same inputs in Node (the CLI engine) give the same numbers', async () => {
    const engine = await createNodeEngine({ cache: new NodeDirBlobCache(join(downloads, 'cache')) });
    try {
      const pack = await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
      expect(pack.id).toBe(report.pack.id); // the page's pack
      const edit = report.runs[1].edit;
      if (edit.kind !== 'recipe') throw new Error('expected a recipe edit');
      await engine.applyRecipe(edit.recipe);
      const node = await engine.evaluate({ jobId: 'node', protocol: report.protocol, judge: { kind: 'concept-world', onnx: standIn.onnx, labels: standIn.labels }, runs: [{ kind: 'original' }, { kind: 'edited' }] });
      // ORT's WebGPU EP in the page and its CPU EP in Node round differently; the judge sees almost the same pixels.
      for (const i of [0, 1]) expect(metricsDifference(node.report.runs[i].metrics, report.runs[i].metrics, 0.02)).toBeNull();
    } finally {
      await engine.dispose();
    }
  }, 180_000);

  test('cancel stops a running evaluation', async () => {
    await fillSettings(2);
    await page.getByTestId('evaluate-run').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=evaluate-progress]')?.getAttribute('data-done') ?? 0) >= 1, null, { timeout: 120_000, polling: 100 });
    await page.getByTestId('evaluate-cancel').click();
    await page.getByTestId('evaluate-cancelled').waitFor({ timeout: 60_000 });
    // The earlier table stays until a comparable evaluation replaces it.
    expect(await page.getByTestId('evaluate-row').count()).toBe(2);
    expect(errors).toEqual([]);
  }, 240_000);
});
