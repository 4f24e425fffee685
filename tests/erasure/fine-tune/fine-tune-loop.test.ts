/**
 * The fine-tuning loop on tiny-sd15 (8x8 latents, rank 2, 2 steps): the same recipe and seed give
 * the same factor bits and the same LoRA file bytes, a run paused at a checkpoint and resumed
 * gives the bytes of the uninterrupted run, and the exported file holds the trained update.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { runFineTune, type FineTuneProgress } from '../../../src/erasure/fine-tune/fine-tune-loop.ts';
import { MemoryCheckpointStore } from '../../../src/erasure/fine-tune/checkpoint-store.ts';
import { decodeCheckpoint } from '../../../src/erasure/fine-tune/fine-tune-checkpoint.ts';
import { exportTrainedLora } from '../../../src/erasure/fine-tune/trained-lora.ts';
import { importLoraFile } from '../../../src/erasure/lora-import.ts';
import { testContext } from '../../support/gpu.ts';
import { recipeHash, tinyFineTuneModel, tinyRecipe } from './tiny-run.ts';

const ctx = await testContext();
const model = await tinyFineTuneModel(ctx);
afterAll(() => model.release());

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('fine-tuning loop (ESD-x on tiny-sd15)', () => {
  test('same recipe and seed: same bytes; paused after step 1 and resumed: the same bytes as uninterrupted', async () => {
    // latentSteps 1: z_t is the seeded latent itself (the denoising path is tested on the CPU).
    const recipe = tinyRecipe({ objective: 'esd-x', steps: 2, latentSteps: 1 });
    const recipeSha256 = await recipeHash(recipe);
    const progress: FineTuneProgress[] = [];
    const whole = await runFineTune(ctx, model, { recipe, recipeSha256, onProgress: (p) => progress.push(p) });
    expect(whole.steps).toBe(2);
    expect(progress.map((p) => p.step)).toEqual([1, 2]);
    expect(progress.every((p) => Number.isFinite(p.loss) && p.loss > 0 && p.stepsPerSecond > 0)).toBe(true);
    expect(whole.losses.map((l) => l.loss)).toEqual(progress.map((p) => p.loss));
    // The trained B moved away from its zero start; A from its seeded draw.
    expect(Math.max(...whole.lora.toK.flatMap((p) => [...p.b].map(Math.abs)))).toBeGreaterThan(1e-5);

    const store = new MemoryCheckpointStore();
    const first = await runFineTune(ctx, model, { recipe, recipeSha256, store, checkpointEvery: 1, stopAfter: 1 });
    expect(first.steps).toBe(1);
    const saved = decodeCheckpoint((await store.read(`${recipeSha256}.ckpt`))!, 'memory');
    expect(saved).toMatchObject({ step: 1, adamSteps: 1, recipeSha256 });
    expect(saved.losses[0].loss).toBe(whole.losses[0].loss);
    const rest = await runFineTune(ctx, model, { recipe, recipeSha256, store, checkpointEvery: 1, resume: true });
    expect(rest.resumedAt).toBe(1);
    expect(rest.losses.map((l) => l.loss)).toEqual(whole.losses.map((l) => l.loss));
    for (let i = 0; i < model.weights.layers.length; i++) {
      for (const key of ['toK', 'toV'] as const) {
        expect(bits(rest.lora[key][i].a), `${key}[${i}].a`).toEqual(bits(whole.lora[key][i].a));
        expect(bits(rest.lora[key][i].b), `${key}[${i}].b`).toEqual(bits(whole.lora[key][i].b));
      }
    }
    const exportOf = (lora: typeof whole.lora) => exportTrainedLora({ lora, closedForm: null, recipe, packSha256: recipe.pack.sha256, family: 'tiny-sd15' }, { convention: 'kohya', rank: 'exact', dtype: 'fp32' });
    const a = exportOf(whole.lora);
    const b = exportOf(rest.lora);
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);

    // The file holds s B A per projection: re-imported, its product matches the trained factors'.
    const imported = importLoraFile(a.bytes, a.fileName, 1, { layers: model.weights.layers, family: 'tiny-sd15' });
    expect(imported.deltas).toHaveLength(2 * model.weights.layers.length);
    const delta = imported.deltas.find((d) => d.layer === 1 && d.projection === 'to_v')!;
    const { a: A, b: B } = whole.lora.toV[1];
    const r = recipe.fineTune.rank;
    const s = recipe.fineTune.alpha / r;
    let worst = 0;
    for (let o = 0; o < delta.outFeatures; o += 7)
      for (let j = 0; j < delta.inFeatures; j += 5) {
        let expected = 0;
        let got = 0;
        for (let k = 0; k < r; k++) expected += s * B[o * r + k] * A[k * delta.inFeatures + j];
        for (let k = 0; k < delta.rank; k++) got += delta.scale * delta.up[o * delta.rank + k] * delta.down[k * delta.inFeatures + j];
        worst = Math.max(worst, Math.abs(got - expected));
      }
    expect(worst).toBeLessThan(1e-9);
  }, 300_000);
});
