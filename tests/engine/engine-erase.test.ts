import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EraseRequest, GenerateParams } from '../../src/engine/api.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { fineTuneDefaults } from '../../src/erasure/fine-tune/fine-tune-options.ts';
import { parseRecipe, serializeRecipe } from '../../src/erasure/recipe.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';

const engine = await createNodeEngine({ cache: new NodeDirBlobCache(mkdtempSync(join(tmpdir(), 'lethe-erase-'))) });
beforeAll(async () => {
  await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
});
afterAll(() => engine.dispose());

const params = (overrides: Partial<GenerateParams> = {}): GenerateParams => ({
  jobId: crypto.randomUUID(),
  prompt: 'a photo of a cat',
  seed: 3,
  steps: 3,
  guidance: 7.5,
  scheduler: 'ddim',
  variant: 'edited',
  ...overrides,
});

const eraseCat: EraseRequest = {
  concepts: { kind: 'object', targets: [{ concept: 'cat' }], preserve: [{ concept: 'dog' }, { concept: 'ship' }, { concept: 'airplane' }] },
  method: 'uce',
  tokens: 'subject',
};

describe('closed-form erasure in the engine (demo pack)', () => {
  test('erasing changes the edited image and never the original', async () => {
    const before = await engine.generate(params({ variant: 'original' }));
    const summary = await engine.erase(eraseCat);
    expect(summary.rank).toBe(summary.eraseVectors);
    expect(summary.id).toMatch(/^[0-9a-f]{64}$/);
    const beforeAgain = await engine.generate(params({ variant: 'original' }));
    const after = await engine.generate(params());
    expect(after.editId).toBe(summary.id);
    expect(Buffer.from(beforeAgain.rgba).equals(Buffer.from(before.rgba))).toBe(true);
    expect(Buffer.from(after.rgba).equals(Buffer.from(before.rgba))).toBe(false);
  });

  test('a prompt with the concept moves the noise prediction more than an unrelated one', async () => {
    // All 77 tokens: with subject/last selection the padding rows after EOS, which are nearly
    // identical across prompts (cos ~0.98 in the tiny encoder), are unconstrained and M moves them
    // for every prompt alike (measured: related 0.35 vs unrelated 0.39 with 'subject').
    await engine.erase({ ...eraseCat, tokens: 'all', templates: ['a photo of a {}', '{}'] });
    const [related, unrelated] = await engine.measureEdit(['a photo of a cat', 'a photo of a ship'], { seed: 1, timestep: 500 });
    expect(related.relativeChange).toBeGreaterThan(0);
    expect(related.relativeChange).toBeGreaterThan(2 * unrelated.relativeChange);
  });

  test('RealEra adds neighbors and beyond samples; its recipe reproduces the edit bit for bit', async () => {
    const summary = await engine.erase({ ...eraseCat, method: 'realera', realera: { seed: 11 } });
    expect(summary.neighbors).toBeGreaterThan(0);
    expect(summary.beyond).toBeGreaterThan(0);
    const edited = await engine.generate(params());
    await engine.clearEdit();
    const cleared = await engine.generate(params());
    const again = await engine.applyRecipe(summary.recipe);
    expect(again.id).toBe(summary.id);
    expect(again.recipe).toBe(summary.recipe);
    const replayed = await engine.generate(params());
    expect(Buffer.from(replayed.rgba).equals(Buffer.from(edited.rgba))).toBe(true);
    expect(Buffer.from(cleared.rgba).equals(Buffer.from(edited.rgba))).toBe(false);
  });

  test('a recipe for another pack is refused with a message naming both packs', async () => {
    const summary = await engine.erase(eraseCat);
    const foreign = summary.recipe.replace(/"sha256": "[0-9a-f]{64}"/, `"sha256": "${'a'.repeat(64)}"`);
    await expect(engine.applyRecipe(foreign)).rejects.toThrow(/load that pack/);
  });

  test("a fine-tuning run's recipe is refused (its result is a LoRA file), and the current edit stays", async () => {
    const summary = await engine.erase(eraseCat);
    const training = serializeRecipe({ ...parseRecipe(summary.recipe, 'recipe'), fineTune: fineTuneDefaults('esd-x', 8) });
    await expect(engine.applyRecipe(training)).rejects.toThrow('recipe: fineTune: this recipe describes a fine-tuning run (esd-x, 1000 steps), whose result is a LoRA file');
    expect((await engine.generate(params())).editId).toBe(summary.id);
  });
});

describe('LoRA export and re-import (demo pack)', () => {
  test.each(['kohya', 'diffusers'] as const)('an exact fp32 %s export re-imported at strength 1 reproduces the after image pixel for pixel', async (convention) => {
    await engine.erase(eraseCat);
    const after = await engine.generate(params());
    const exported = await engine.exportLora({ convention, rank: 'exact', dtype: 'fp32' });
    expect(exported.worstRelativeError).toBe(0);
    expect(exported.fileName).toMatch(/cat.*\.safetensors$/);
    await engine.clearEdit();
    const imported = await engine.importLora(exported.bytes, exported.fileName, 1);
    expect(imported.applied.length).toBe(32);
    expect(imported.notApplied).toEqual([]);
    const reimported = await engine.generate(params());
    expect(reimported.editId).toBe(imported.editId);
    expect(Buffer.from(reimported.rgba).equals(Buffer.from(after.rgba))).toBe(true);
  });

  test('strength 0 gives the original image; a truncated export reports per-layer errors', async () => {
    await engine.erase(eraseCat);
    const truncated = await engine.exportLora({ convention: 'kohya', rank: 1, dtype: 'fp16' });
    expect(truncated.layers.length).toBeGreaterThan(0);
    expect(truncated.worstRelativeError).toBe(Math.max(...truncated.layers.map((l) => l.relativeError)));
    const exact = await engine.exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp32' });
    await engine.importLora(exact.bytes, exact.fileName, 0);
    const original = await engine.generate(params({ variant: 'original' }));
    const zero = await engine.generate(params());
    expect(Buffer.from(zero.rgba).equals(Buffer.from(original.rgba))).toBe(true);
  });

  test('exporting with no edit, and importing garbage, fail with clear messages', async () => {
    await engine.clearEdit();
    await expect(engine.exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp32' })).rejects.toThrow(/erase a concept first/);
    await expect(engine.importLora(new Uint8Array([1, 2, 3]), 'broken.safetensors', 1)).rejects.toThrow(/broken\.safetensors/);
  });
});
