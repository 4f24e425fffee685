import { afterAll, describe, expect, test } from 'vitest';
import { demoPackSource } from '../../src/engine/demo-pack.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import { loadPackFiles } from '../../src/model/loader.ts';
import { openPack } from '../../src/model/pack-opener.ts';
import type { PackLoadProgress } from '../../src/engine/api.ts';
import { HubServer } from '../support/hub-server.ts';

const hub = await HubServer.start();
afterAll(() => hub.close());

describe('a diffusers repo on the hub opens as a pack', () => {
  test('the pack built from the diffusers layout is the converted demo pack, byte for byte', async () => {
    const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 0, layout: 'diffusers' });
    hub.setRepo('lethe-test/tiny-sd15-diffusers', files);
    const events: PackLoadProgress[] = [];
    const opened = await openPack({ kind: 'hub', repo: 'lethe-test/tiny-sd15-diffusers', endpoint: hub.endpoint }, { cache: new MemoryBlobCache(), onProgress: (p) => events.push(p) });
    const demo = await loadPackFiles(await demoPackSource('tiny-sd15'), new MemoryBlobCache());
    expect(opened.manifest.family).toBe('tiny-sd15');
    expect(opened.manifestSha256).toBe(demo.manifestSha256);
    expect(events.some((e) => e.phase === 'prepare')).toBe(true);
    expect(opened.summary.source).toMatch(/diffusers/);
  });

  test('a repo with neither manifest.json nor model_index.json still says the manifest is missing', async () => {
    hub.setRepo('lethe-test/empty', new Map([['README.md', new TextEncoder().encode('nothing here')]]));
    await expect(openPack({ kind: 'hub', repo: 'lethe-test/empty', endpoint: hub.endpoint }, { cache: new MemoryBlobCache() })).rejects.toThrow(/file not found: manifest\.json/);
  });
});
