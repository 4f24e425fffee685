/**
 * What stops a run, on tiny-sd15: a non-finite loss stops before the update with a message naming
 * the step and the learning rate, and the last good checkpoint stays; a storage that refuses the
 * checkpoint is a clear CheckpointStorageError. And the ESD-x loss of the first step (B = 0, so
 * the trained UNet is the original) is (1 + eta)^2 mean((eps(c) - eps(""))^2), computed here from
 * the frozen UNet's own predictions at the same z_t.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { runFineTune, TrainingDivergedError, type FineTuneProgress } from '../../../src/erasure/fine-tune/fine-tune-loop.ts';
import { CheckpointStorageError, MemoryCheckpointStore } from '../../../src/erasure/fine-tune/checkpoint-store.ts';
import { decodeCheckpoint } from '../../../src/erasure/fine-tune/fine-tune-checkpoint.ts';
import { objectiveFor } from '../../../src/erasure/fine-tune/objectives.ts';
import { gaussianNoise, NoiseStream } from '../../../src/pipeline/noise.ts';
import { DdimScheduler } from '../../../src/pipeline/schedulers/ddim.ts';
import { projectKv } from '../../../src/pipeline/unet/kv-projection.ts';
import { loadUnetPieces, runPieces } from '../../../src/training/unet-pieces.ts';
import { REALERA_DEFAULTS } from '../../../src/erasure/realera.ts';
import type { GpuTensor } from '../../../src/gpu/tensor.ts';
import { testContext } from '../../support/gpu.ts';
import { recipeHash, tinyFineTuneModel, tinyRecipe } from './tiny-run.ts';

const ctx = await testContext();
const model = await tinyFineTuneModel(ctx);
afterAll(() => model.release());

describe('fine-tuning guards (ESD-x on tiny-sd15)', () => {
  test('a non-finite loss stops the run naming step and learning rate; the last good checkpoint is kept; step 1 loss is (1 + eta)^2 mean((eps_c - eps_u)^2)', async () => {
    const recipe = tinyRecipe({ objective: 'esd-x', steps: 3, latentSteps: 1, eta: 0.5, learningRate: 2e-3 });
    const recipeSha256 = await recipeHash(recipe);
    const store = new MemoryCheckpointStore();
    const progress: FineTuneProgress[] = [];
    const poisoned = new Float32Array(model.hostWeights[0].toK.length).fill(Number.NaN);
    let error: unknown;
    try {
      await runFineTune(ctx, model, {
        recipe,
        recipeSha256,
        store,
        checkpointEvery: 1,
        onProgress: (p) => {
          progress.push(p);
          // After step 1, the first to_k weight turns to NaN: step 2's loss is not finite.
          if (p.step === 1) ctx.writeTensor(model.weights.toK[0], poisoned);
        },
      });
    } catch (e) {
      error = e;
    } finally {
      ctx.writeTensor(model.weights.toK[0], model.hostWeights[0].toK);
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(/step 2: the loss is NaN with learning rate 0\.002/);
    expect(progress.map((p) => p.step)).toEqual([1]);
    const kept = decodeCheckpoint((await store.read(`${recipeSha256}.ckpt`))!, 'memory');
    expect(kept.step).toBe(1);
    expect(kept.losses.map((l) => l.loss)).toEqual([progress[0].loss]);

    // The first step's loss from the frozen UNet's predictions at the same z_t.
    const plan = await objectiveFor('esd-x').planStep(0, { options: recipe.fineTune, concepts: recipe.concepts, templates: recipe.prompts.templates, realera: REALERA_DEFAULTS, numTrainTimesteps: 1000, embed: async () => new Float32Array(0) });
    const latent = plan.samples[0].latent;
    if (latent.kind !== 'denoised') throw new Error('ESD plans denoised latents');
    expect(latent.stepsTaken).toBe(0);
    const { dims } = model.manifest;
    const shape = [1, dims.latentChannels, 8, 8];
    const z = gaussianNoise(recipe.fineTune.seed, NoiseStream.training, 0, shape.reduce((a, b) => a * b, 1));
    const t = new DdimScheduler(model.schedulerConfig, 1).timesteps[0];
    const graphs = await loadUnetPieces(ctx, model.manifest, model.read, { batch: 1, latentHeight: 8, latentWidth: 8 });
    const predict = async (prompt: string): Promise<Float64Array> => {
      const e = await model.encode([prompt]);
      const kv = projectKv(ctx, e, model.weights as never);
      const sample = ctx.upload(z, shape);
      const timestep = ctx.upload([t], [1]);
      const given = new Map<string, GpuTensor>([['sample', sample], ['timestep', timestep]]);
      kv.keys.forEach((k, i) => given.set(`k_${i}`, k));
      kv.values.forEach((v, i) => given.set(`v_${i}`, v));
      const out = runPieces(graphs, given);
      const values = Float64Array.from(await ctx.read(out.values.get('out_sample')!));
      out.release();
      for (const x of [kv, sample, timestep, e]) x.release();
      return values;
    };
    try {
      const c = await predict(latent.prompt);
      const u = await predict('');
      let sum = 0;
      for (let i = 0; i < c.length; i++) sum += (c[i] - u[i]) ** 2;
      const expected = (1.5 ** 2 * sum) / c.length;
      expect(Math.abs(progress[0].loss - expected) / expected).toBeLessThan(1e-4);
      expect(progress[0].groups).toEqual({ erase: progress[0].loss });
    } finally {
      for (const g of graphs) g.release();
    }
  }, 300_000);

  test('a full storage stops the run with a clear error', async () => {
    const recipe = tinyRecipe({ objective: 'esd-x', steps: 1, latentSteps: 1 });
    const store = new MemoryCheckpointStore();
    store.quotaBytes = 1000;
    const run = runFineTune(ctx, model, { recipe, recipeSha256: await recipeHash(recipe), store, checkpointEvery: 1 });
    await expect(run).rejects.toThrow(CheckpointStorageError);
    await expect(run).rejects.toThrow(/Could not save the training checkpoint \(\d+ bytes\) to memory: quota of 1000 bytes exceeded\. The run stopped; the last saved checkpoint is kept/);
  }, 300_000);
});
