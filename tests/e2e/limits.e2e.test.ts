import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { HubServer } from '../support/hub-server.ts';
import { makeTinyPack } from '../model/tiny-pack.ts';
import { launchBrowser } from './support/browser.ts';
import { openStudioWithDemoPack } from './support/studio-page.ts';

const REPO = 'lethe-test/too-big-for-quota';
let browser: Browser;
let hub: HubServer;
beforeAll(async () => {
  hub = await HubServer.start();
  // The fit check stops the load at manifest.json, so the files never need to be real ONNX.
  const pack = makeTinyPack(31, 2_000_000);
  hub.setRepo(REPO, new Map([...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)]]));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

/** The names in the studio's OPFS cache folder (blobs and partial downloads). */
async function cachedBlobs(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('lethe-cache');
    const blobs = (await root.getDirectoryHandle('blobs')) as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> };
    const names: string[] = [];
    for await (const name of blobs.keys()) names.push(name);
    return names.sort();
  });
}

test('with a deliberately low storage quota, a hub pack stops before its download with the space it needs; the demo pack stays loaded and cached', async () => {
  const { page, errors } = await openStudioWithDemoPack(browser, inject('studioUrl'));
  const summary = page.getByTestId('model-summary');
  const demoId = await summary.getAttribute('data-pack-id');
  const before = await cachedBlobs(page);
  expect(before.length).toBeGreaterThan(10);

  // Chromium's own quota, lowered through the DevTools protocol: navigator.storage.estimate() in
  // the engine worker reports it, and OPFS writes beyond it fail as on a full disk.
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(inject('studioUrl')).origin, quotaSize: usage + 500_000 });
  expect(await page.evaluate(async () => (await navigator.storage.estimate()).quota)).toBe(usage + 500_000);

  await page.getByTestId('model-source-hub').check();
  await page.getByTestId('hub-repo').fill(REPO);
  await page.getByTestId('hub-advanced').click();
  await page.getByTestId('hub-endpoint').fill(hub.endpoint);
  hub.clearLog();
  await page.getByTestId('model-load').click();
  const error = page.getByTestId('model-error');
  await error.waitFor({ timeout: 60_000 });
  expect(await error.locator('.error-title').textContent()).toBe('The browser storage is full.');
  const detail = (await error.locator('.error-detail').textContent()) ?? '';
  expect(detail).toMatch(/^This tiny-sd15 fp32 pack \(1\.9 MiB\) does not fit here \(nothing was downloaded\)\. The pack needs 1\.9 MiB more browser storage; this site may use \d+ KiB more/);
  expect(detail).toMatch(/Free at least 1\.\d MiB/);
  expect(await error.textContent()).toMatch(/The previous model stays loaded/);

  // Only manifest.json was read from the hub; the demo pack is still the loaded one and nothing left the cache.
  expect(hub.log.map((entry) => entry.path)).toEqual(['manifest.json']);
  expect(await summary.getAttribute('data-pack-id')).toBe(demoId);
  const after = await cachedBlobs(page);
  for (const name of before) expect(after).toContain(name);
  expect(after.filter((name) => !before.includes(name))).toHaveLength(1); // the hub pack's manifest.json
  expect(errors).toEqual([]);
  await page.close();
}, 300_000);
