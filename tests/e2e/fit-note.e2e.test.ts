import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { launchBrowser, watchPage } from './support/browser.ts';
import { openModelChooser, testingUrl } from './support/studio-page.ts';

// A pack that runs on this GPU, but not at its native size: the studio says so when it loads
// (the fit check's note) and refuses that size before running, with the size that fits. The
// forged tiny SD 1.5 pack's manifest is given a native size of 1024x1024 (128x128 latents):
// its first self-attention's scores no longer fit SwiftShader's 1 GiB buffers there.
const studioUrl = inject('studioUrl');
const dir = mkdtempSync(join(tmpdir(), 'lethe-e2e-fit-'));
const TIMEOUT = 300_000;

let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  process.env.LETHE_CACHE_DIR = join(dir, 'cache');
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await main(['forge', '--preset', 'tiny-sd15', '--out', join(dir, 'export')])).toBe(0);
    expect(await main(['convert', '--in', join(dir, 'export'), '--out', join(dir, 'pack')])).toBe(0);
  } finally {
    vi.restoreAllMocks();
  }
  const manifestPath = join(dir, 'pack', 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { dims: { sampleSize: number } };
  manifest.dims.sampleSize = 128;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  ({ errors } = watchPage(page));
  await page.goto(testingUrl(studioUrl));
  await page.getByTestId('model-summary').waitFor({ timeout: TIMEOUT });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a pack too large at its native size for this GPU', () => {
  test('loads with the note saying the size that fits; generating at the native size is refused before running', async () => {
    await openModelChooser(page);
    await page.getByTestId('model-source-folder').check();
    await page.getByTestId('folder-input').setInputFiles(join(dir, 'pack'));
    await page.getByTestId('model-load').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=model-summary]')?.getAttribute('data-family') === 'tiny-sd15', undefined, { timeout: TIMEOUT });
    const note = (await page.getByTestId('model-fit-note').innerText()).trim();
    expect(note).toMatch(/^At 1024x1024 the largest GPU buffer is .* over this adapter's 1 GiB: generate at (\d+)x\1 or smaller here\.$/);
    const side = Number(/generate at (\d+)x/.exec(note)![1]);
    expect(side).toBeGreaterThanOrEqual(64);
    expect(side).toBeLessThan(1024);

    await page.getByTestId('size').selectOption('native');
    await page.getByTestId('steps').fill('1');
    await page.getByTestId('generate').click();
    const error = page.getByTestId('error-original');
    await error.waitFor({ timeout: TIMEOUT });
    const shown = await error.innerText();
    expect(shown).toMatch(/This model does not fit this GPU at that size; nothing was run\./);
    expect(shown).toMatch(new RegExp(`Generate at ${side}x${side} or smaller \\(1024x1024 needs the buffer above\\)`));
    // Kept outside the removed folder, to be looked at.
    await page.screenshot({ path: join(tmpdir(), 'lethe-e2e-fit-note.png') });
    await error.screenshot({ path: join(tmpdir(), 'lethe-e2e-fit-error.png') });
    expect(errors).toEqual([]);
  });
});
