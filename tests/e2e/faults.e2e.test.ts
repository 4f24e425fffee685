import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test, vi } from 'vitest';
import { pixelsEqual } from '../../src/app/image-compare.ts';
import { main } from '../../src/cli/main.ts';
import { launchBrowser, watchPage } from './support/browser.ts';
import { generatePair, lastPair, openModelChooser, testingUrl, type PairPixels } from './support/studio-page.ts';

// What a user can feed the studio, each in a bad form: the message appears where the input was
// given, once, and the pack, the edit history and the images on show stay as they were.
const studioUrl = inject('studioUrl');
const dir = mkdtempSync(join(tmpdir(), 'lethe-e2e-faults-'));
const HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n';
// SwiftShader on a shared 2-core machine: loading the demo or making an image can take minutes.
const IMAGE_TIMEOUT = 300_000;

let browser: Browser;
let page: Page;
let errors: string[];

/** Seeded bytes that are no format at all. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface Shown {
  packId: string | null;
  pairId: string | null;
  history: string | null;
  edits: number;
  pair: PairPixels;
}

async function shown(): Promise<Shown> {
  return {
    packId: await page.getByTestId('model-summary').getAttribute('data-pack-id'),
    pairId: await page.getByTestId('pair').getAttribute('data-pair-id'),
    history: await page.getByTestId('history').getAttribute('data-count'),
    edits: await page.getByTestId('history-entry').count(),
    pair: await lastPair(page),
  };
}

let baseline: Shown;

/** The message is in `testId` (its place), matches `message`, appears once on the page; nothing shown changed. */
async function expectRejected(testId: string, message: RegExp): Promise<void> {
  const box = page.getByTestId(testId);
  await box.waitFor({ timeout: 60_000 });
  const text = (await box.innerText()).trim();
  expect(text).toMatch(message);
  const title = text.split('\n')[0];
  expect(await page.getByText(title, { exact: false }).count(), `"${title}" is said once`).toBe(1);
  const now = await shown();
  expect(now.packId).toBe(baseline.packId);
  expect(now.pairId).toBe(baseline.pairId);
  expect(now.history).toBe(baseline.history);
  expect(now.edits).toBe(baseline.edits);
  expect(pixelsEqual(now.pair.original, baseline.pair.original)).toBe(true);
  expect(pixelsEqual(now.pair.edited, baseline.pair.edited)).toBe(true);
}

async function dismiss(testId: string): Promise<void> {
  const close = page.getByTestId(testId).getByRole('button', { name: 'dismiss' });
  if ((await close.count()) > 0) await close.click();
}

beforeAll(async () => {
  // A recipe and a LoRA made for SD 2 (the forged tiny-sd21): valid files of the wrong kind.
  process.env.LETHE_CACHE_DIR = join(dir, 'cache');
  process.env.LETHE_SWIFTSHADER = '1';
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await main(['erase', '--pack', 'demo:tiny-sd21', '--concept', 'cat', '--out', join(dir, 'sd21-recipe.json')])).toBe(0);
    expect(await main(['export', '--recipe', join(dir, 'sd21-recipe.json'), '--pack', 'demo:tiny-sd21', '--out', join(dir, 'sd21-lora.safetensors')])).toBe(0);
  } finally {
    vi.restoreAllMocks();
  }
  mkdirSync(join(dir, 'bad-pack'));
  writeFileSync(join(dir, 'bad-pack', 'manifest.json'), noise(2048, 9));

  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  ({ errors } = watchPage(page));
  await page.goto(testingUrl(studioUrl));
  await page.getByTestId('model-summary').waitFor({ timeout: IMAGE_TIMEOUT * 2 });
  await generatePair(page, { prompt: 'a photo of a cat', seed: 5, steps: 1, guidance: 1 }, IMAGE_TIMEOUT);
  baseline = await shown();
}, 1_500_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input in the studio', () => {
  test('form field: steps 0 is refused in the form', async () => {
    await page.getByTestId('steps').fill('0');
    await expectRejected('generate-form-error', /step/i);
    expect(await page.getByTestId('generate').isDisabled()).toBe(true);
    await page.getByTestId('steps').fill('1');
  });

  test.each([
    ['an HTML page', () => file('page.json', HTML_PAGE), /recipe|JSON/i],
    ['random bytes', () => file('noise.json', noise(512, 1)), /recipe|JSON|text/i],
    ['an empty file', () => file('empty.json', ''), /recipe|JSON|empty/i],
    ['a recipe for another pack', () => join(dir, 'sd21-recipe.json'), /pack|model/i],
  ])('recipe file: %s', async (_, make, message) => {
    await page.getByTestId('recipe-open').setInputFiles(make());
    await expectRejected('concept-error', message);
    await dismiss('concept-error');
  });

  test.each([
    ['an HTML page', () => file('page.safetensors', HTML_PAGE), /LoRA|safetensors|file/i],
    ['random bytes', () => file('noise.safetensors', noise(4096, 2)), /LoRA|safetensors|file/i],
    ['a LoRA for SD 2 on this SD 1 pack', () => join(dir, 'sd21-lora.safetensors'), /base model|SD ?2|wide/i],
  ])('LoRA file: %s', async (_, make, message) => {
    await page.getByTestId('lora-open').setInputFiles(make());
    await expectRejected('lora-error', message);
    await dismiss('lora-error');
  });

  test('hub id: not an owner/name id', async () => {
    await openModelChooser(page);
    await page.getByTestId('model-source-hub').check();
    await page.getByTestId('hub-repo').fill('not a repo id');
    await page.getByTestId('model-load').click();
    await expectRejected('model-error', /repo id/i);
  });

  test('hub id: the server answers with an HTML page instead of manifest.json', async () => {
    await page.getByTestId('hub-repo').fill('someone/no-such-pack');
    await page.getByTestId('hub-advanced').click();
    // The studio's own server answers every unknown path with its index.html.
    await page.getByTestId('hub-endpoint').fill(new URL(studioUrl).origin);
    await page.getByTestId('model-load').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=model-panel]')?.getAttribute('aria-busy') !== 'true', undefined, { timeout: 60_000 });
    await expectRejected('model-error', /manifest|pack|repo|JSON/i);
  });

  test('folder: a manifest.json of random bytes', async () => {
    await page.getByTestId('model-source-folder').check();
    await page.getByTestId('folder-input').setInputFiles(join(dir, 'bad-pack'));
    await page.getByTestId('model-load').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=model-panel]')?.getAttribute('aria-busy') !== 'true', undefined, { timeout: 60_000 });
    await expectRejected('model-error', /damaged|manifest|pack/i);
    await page.getByTestId('model-source-demo').check();
  });

  test('no page errors or console errors along the way', () => {
    expect(errors).toEqual([]);
  });
});

describe('a damaged shared link', () => {
  test('says what is wrong once and opens the studio with its pack and no edit', async () => {
    const other = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const watched = watchPage(other);
    await other.goto(`${testingUrl(studioUrl, null)}#model=demo:tiny-sd15&recipe=%%%not-base64%%%`);
    await other.getByTestId('model-summary').waitFor({ timeout: IMAGE_TIMEOUT * 2 });
    const notice = other.getByRole('status');
    await notice.waitFor({ timeout: 30_000 });
    const text = await notice.innerText();
    expect(text).toMatch(/link|recipe/i);
    expect(await other.evaluate(() => window.__lethe?.editId ?? null)).toBeNull();
    expect(watched.errors).toEqual([]);
    expect(readFileSync(join(dir, 'sd21-recipe.json'), 'utf8')).toMatch(/tiny-sd21|"pack"/);
    await other.close();
  }, 900_000);
});
