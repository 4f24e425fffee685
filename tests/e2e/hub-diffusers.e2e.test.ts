import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import { HubServer } from '../support/hub-server.ts';
import { launchBrowser } from './support/browser.ts';
import { generatePair, openModelChooser, testingUrl } from './support/studio-page.ts';
import { watchPage } from './support/browser.ts';

let browser: Browser;
let hub: HubServer;
beforeAll(async () => {
  hub = await HubServer.start();
  const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 1, layout: 'diffusers' });
  hub.setRepo('lethe-test/tiny-sd15-diffusers', files);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

test('a hub id of a diffusers repo (local hub mimic) loads with progress and generates', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const { errors } = watchPage(page);
  await page.goto(testingUrl(inject('studioUrl')));
  // The studio preloads the demo pack; wait for it, then switch to the hub repo.
  const summary = page.getByTestId('model-summary');
  await summary.waitFor({ timeout: 120_000 });
  const demoId = await summary.getAttribute('data-pack-id');
  await openModelChooser(page);
  await page.getByTestId('model-source-hub').check();
  await page.getByTestId('hub-repo').fill('lethe-test/tiny-sd15-diffusers');
  await page.getByTestId('hub-advanced').click();
  await page.getByTestId('hub-endpoint').fill(hub.endpoint);
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-progress').waitFor({ timeout: 30_000 });
  await page.waitForFunction((previous) => {
    const element = document.querySelector('[data-testid="model-summary"]');
    return element && element.getAttribute('data-pack-id') !== previous;
  }, demoId, { timeout: 120_000 });
  expect(await summary.getAttribute('data-family')).toBe('tiny-sd15');
  expect(await summary.textContent()).toMatch(/diffusers/);
  // Its weights came from the hub repo (seed 1), not the demo (seed 0).
  expect(hub.log.some((entry) => entry.path?.endsWith('diffusion_pytorch_model.safetensors') && entry.range)).toBe(true);
  const pair = await generatePair(page, { prompt: 'a photo of a cat', seed: 4, steps: 1, guidance: 1 });
  expect(pair.original.length).toBe(64 * 64 * 4);
  expect(errors).toEqual([]);
}, 300_000);
