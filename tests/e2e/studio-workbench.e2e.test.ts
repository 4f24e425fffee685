import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { launchBrowser, watchPage } from './support/browser.ts';
import { testingUrl } from './support/studio-page.ts';

// A scripted user on the concept-world demo (the studio's default): erase "cat", watch the comparison fill, pin UCE
// and RealEra side by side, open the slider view, change the method and see results marked
// outdated, reload and find the history, open the shared link in a fresh context. Nothing here
// depends on what the images show: only on which edit made each one.
const studioUrl = inject('studioUrl');
const LONG = 600_000;
let browser: Browser;
let page: Page;
let errors: string[];
const shots = process.env.LETHE_UPDATE_SCREENSHOT === '1' ? 'docs' : 'test-results';

beforeAll(async () => {
  browser = await launchBrowser();
  mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

async function openStudio(target: Page, url: string): Promise<void> {
  await target.goto(url);
  await target.getByTestId('model-summary').waitFor({ timeout: LONG });
}

/** Waits until every image the grid shows has been made (or failed). */
async function waitForGrid(target: Page): Promise<void> {
  await target.waitForFunction(
    () => {
      const grid = document.querySelector('[data-testid=comparison]');
      const done = Number(grid?.getAttribute('data-done'));
      return grid?.getAttribute('data-running') === 'false' && done > 0 && done === Number(grid?.getAttribute('data-total'));
    },
    null,
    { timeout: LONG, polling: 500 },
  );
}

async function editId(target: Page): Promise<string> {
  return (await target.getByTestId('edit-summary').getAttribute('data-edit-id')) ?? '';
}

async function erase(target: Page, previous: string): Promise<string> {
  await target.getByTestId('erase-button').click();
  await target.waitForFunction((prev) => {
    const id = document.querySelector('[data-testid=edit-summary]')?.getAttribute('data-edit-id') ?? '';
    return id !== '' && id !== prev;
  }, previous, { timeout: LONG, polling: 250 });
  return editId(target);
}

async function inFirstScreen(target: Page, testId: string, height: number): Promise<boolean> {
  const box = await target.getByTestId(testId).first().boundingBox();
  return box !== null && box.y >= 0 && box.y + Math.min(box.height, 40) <= height;
}

describe('the studio as an erasure workbench', () => {
  let uce = '';
  let realera = '';
  let sharedUrl = '';

  test('erase "cat": concept, Erase and the comparison on the first screen at 1280x800; the grid fills with before above after', { timeout: LONG * 2 }, async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    ({ errors } = watchPage(page));
    await page.evaluate(() => localStorage.clear()).catch(() => undefined);
    await openStudio(page, testingUrl(studioUrl, null));
    expect(await page.getByTestId('model-summary').textContent()).toMatch(/concept world/);
    for (const id of ['concept', 'method', 'erase-button', 'comparison']) expect(await inFirstScreen(page, id, 800), `${id} on the first screen`).toBe(true);
    // The cheapest images: one step, no guidance; one seed, one row per kind. The README's picture
    // (LETHE_UPDATE_SCREENSHOT=1) is made at 5 steps and guidance 7.5, where the concept world
    // draws its cat, so that it shows what the erasure does rather than one step's noise.
    await page.getByTestId('steps').fill(shots === 'docs' ? '5' : '1');
    await page.getByTestId('guidance').fill(shots === 'docs' ? '7.5' : '1');
    await page.getByTestId('grid-seeds').selectOption('1');
    await page.getByTestId('concept').fill('cat');
    uce = await erase(page, '');
    expect(await page.getByTestId('edit-words').textContent()).toMatch(/^"cat" mapped to the empty prompt/);
    // Names the step, not a side: at 800 px wide the comparison is below, not on the right.
    expect(await page.getByTestId('next-step').textContent()).toMatch(/^Next: compare before and after in step 4;/);
    await waitForGrid(page);
    const rows = page.getByTestId('grid-row');
    expect(await rows.count()).toBeGreaterThanOrEqual(2);
    expect(await rows.first().getAttribute('data-role')).toBe('erased');
    const column = page.locator(`[data-testid=grid-column][data-edit-id="${uce}"]`);
    expect(await column.getAttribute('data-status')).toBe('current');
    const cells = page.locator(`[data-testid=grid-cell][data-edit-id="${uce}"]`);
    expect(await cells.count()).toBe(await rows.count());
    for (const state of await cells.evaluateAll((tds) => tds.map((td) => td.getAttribute('data-state')))) expect(state).toBe('done');
    await page.screenshot({ path: `${shots}/studio-1280x800.png` });
    await page.getByTestId('steps').fill('1');
    await page.getByTestId('guidance').fill('1');
  });

  test('pin UCE, switch to RealEra (the note says what else changed), erase: both columns with the same seeds; the slider view opens', { timeout: LONG * 2 }, async () => {
    await page.getByTestId('pin-edit').click();
    await page.locator(`[data-testid=grid-column][data-edit-id="${uce}"][data-pinned=true]`).waitFor({ timeout: 30_000 });
    await page.getByTestId('method').selectOption('realera');
    expect(await page.getByTestId('method-change-note').textContent()).toBe('Switching to RealEra also set preserve scale 1 → 0.1 (its published default).');
    // The form no longer describes the edit: its summary and column say so.
    expect(await page.getByTestId('edit-summary').getAttribute('data-outdated')).toBe('true');
    expect(await page.locator(`[data-testid=grid-column][data-edit-id="${uce}"]`).getAttribute('data-status')).toBe('outdated');
    realera = await erase(page, uce);
    expect(realera).not.toBe(uce);
    await waitForGrid(page);
    const columns = await page.getByTestId('grid-column').evaluateAll((ths) => ths.map((th) => [th.getAttribute('data-edit-id'), th.getAttribute('data-status')]));
    expect(columns).toEqual([
      [uce, 'pinned'],
      [realera, 'current'],
    ]);
    await page.getByTestId('pin-edit').click();
    await page.locator(`[data-testid=grid-column][data-edit-id="${realera}"][data-pinned=true]`).waitFor({ timeout: 30_000 });
    // Same seeds in both columns, every cell filled.
    const seedsOf = (id: string) => page.locator(`[data-testid=grid-cell][data-edit-id="${id}"]`).evaluateAll((tds) => tds.map((td) => `${td.getAttribute('data-prompt')}|${td.getAttribute('data-seed')}|${td.getAttribute('data-state')}`));
    expect(await seedsOf(realera)).toEqual(await seedsOf(uce));

    await page.locator(`[data-testid=grid-cell][data-edit-id="${realera}"] [data-testid=grid-cell-open]`).first().click();
    const viewer = page.getByTestId('compare-viewer');
    await viewer.waitFor({ timeout: 10_000 });
    await page.getByTestId('viewer-slider').fill('20');
    expect(await viewer.textContent()).toContain('20% before');
    expect(await page.getByTestId('viewer-difference').textContent()).toMatch(/identical to original|differs by/);
    await page.getByTestId('viewer-close').click();
    await viewer.waitFor({ state: 'detached', timeout: 10_000 });
  });

  test('changing the method marks the current results outdated; a reload keeps the history and the erasure', { timeout: LONG * 2 }, async () => {
    await page.getByTestId('method').selectOption('uce');
    expect(await page.getByTestId('method-change-note').textContent()).toBe('Switching to UCE also set preserve scale 0.1 → 1 (its published default).');
    expect(await page.getByTestId('edit-summary').getAttribute('data-outdated')).toBe('true');
    expect(await page.getByTestId('edit-outdated').isVisible()).toBe(true);
    expect(await page.locator(`[data-testid=grid-column][data-edit-id="${realera}"]`).getAttribute('data-status')).toBe('outdated');
    expect(await page.locator(`[data-testid=grid-cell][data-edit-id="${realera}"]`).first().getAttribute('data-outdated')).toBe('true');

    sharedUrl = page.url();
    expect(new URL(sharedUrl).hash).toMatch(/^#model=demo%3A[\w-]+&recipe=[\w-]+$/);
    await page.reload();
    await page.getByTestId('model-summary').waitFor({ timeout: LONG });
    const history = page.getByTestId('history-entry');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=history-entry]').length >= 2, null, { timeout: 30_000 });
    const ids = await history.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-edit-id')));
    expect(ids.slice(0, 2)).toEqual([realera, uce]);
    // The link in the address bar brought the RealEra erasure back by itself.
    await page.waitForFunction((id) => document.querySelector('[data-testid=edit-summary]')?.getAttribute('data-edit-id') === id, realera, { timeout: LONG, polling: 250 });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('the shared link in a fresh browser context reproduces the same erasure (800x1000 keeps the order of the work)', { timeout: LONG * 2 }, async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 1000 } });
    try {
      const fresh = await context.newPage();
      const watched = watchPage(fresh);
      await openStudio(fresh, sharedUrl);
      await fresh.waitForFunction((id) => document.querySelector('[data-testid=edit-summary]')?.getAttribute('data-edit-id') === id, realera, { timeout: LONG, polling: 250 });
      expect(await fresh.getByTestId('method').inputValue()).toBe('realera');
      expect(await fresh.getByTestId('concept').inputValue()).toBe('cat');
      // Narrow: one column, in the order of the work.
      const top = async (id: string) => (await fresh.getByTestId(id).boundingBox())?.y ?? Number.NaN;
      const order = [await top('model-panel'), await top('concept'), await top('erase-button'), await top('comparison'), await top('lora-panel')];
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      await fresh.getByTestId('steps').fill('1');
      await fresh.getByTestId('guidance').fill('1');
      await fresh.getByTestId('grid-seeds').selectOption('1');
      await fresh.getByTestId('grid-take-prompts').click();
      await waitForGrid(fresh);
      await fresh.evaluate(() => window.scrollTo(0, 0));
      for (const id of ['concept', 'method', 'erase-button', 'comparison']) expect(await inFirstScreen(fresh, id, 1000), `${id} on the first screen at 800x1000`).toBe(true);
      await fresh.screenshot({ path: `${shots}/studio-800x1000.png` });
      expect(watched.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
