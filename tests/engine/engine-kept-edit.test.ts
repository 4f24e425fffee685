import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EraseRequest, GenerateParams } from '../../src/engine/api.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';

// Comparison columns: an edit kept after being replaced still generates exactly what it made
// while it was current, so UCE and RealEra can share one grid with the same seeds.
const engine = await createNodeEngine({ cache: new NodeDirBlobCache(mkdtempSync(join(tmpdir(), 'lethe-kept-'))) });
beforeAll(async () => {
  await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
});
afterAll(() => engine.dispose());

const params = (overrides: Partial<GenerateParams> = {}): GenerateParams => ({
  jobId: crypto.randomUUID(),
  prompt: 'a photo of a cat',
  seed: 5,
  steps: 2,
  guidance: 7.5,
  scheduler: 'ddim',
  variant: 'edited',
  ...overrides,
});

const eraseCat: EraseRequest = { concepts: { kind: 'object', targets: [{ concept: 'cat' }], preserve: [{ concept: 'dog' }] }, method: 'uce', tokens: 'subject' };

describe('kept edits', () => {
  test('a kept edit generates the same pixels after another edit replaced it; released, it is refused by name', async () => {
    const uce = await engine.erase(eraseCat);
    const uceImage = await engine.generate(params());
    expect(await engine.keepEdit(uce.id)).toBe(true);
    const realera = await engine.erase({ ...eraseCat, method: 'realera', realera: { seed: 3 } });
    expect(realera.id).not.toBe(uce.id);
    const realeraImage = await engine.generate(params());
    const uceAgain = await engine.generate(params({ editId: uce.id }));
    expect(uceAgain.editId).toBe(uce.id);
    expect(Buffer.from(uceAgain.rgba).equals(Buffer.from(uceImage.rgba))).toBe(true);
    expect(Buffer.from(realeraImage.rgba).equals(Buffer.from(uceImage.rgba))).toBe(false);
    // Only the current edit can be kept.
    expect(await engine.keepEdit('f'.repeat(64))).toBe(false);
    await engine.releaseKeptEdit(uce.id);
    await expect(engine.generate(params({ editId: uce.id }))).rejects.toThrow(/editId: the edit [0-9a-f]{12} is neither current nor kept/);
    // The current edit is still usable by id after a release of another one.
    const current = await engine.generate(params({ editId: realera.id }));
    expect(Buffer.from(current.rgba).equals(Buffer.from(realeraImage.rgba))).toBe(true);
  });
});
