/**
 * Peak GPU memory of one training step's graph work on the tiny-sd15 UNet: TrainingChain's
 * recorded forward through down -> mid -> up, then its backward sweep up -> mid -> down for
 * dL/d(K/V inputs) (each piece's tape released as it is swept), read from the BufferPool's
 * counters. Forged in memory, so it runs in Node and in the bench page alike (no Node imports).
 */
import type { GpuContext } from '../gpu/context.ts';
import { TrainingChain } from '../training/training-chain.ts';
import { loadUnetPieces } from '../training/unet-pieces.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { convertExport, MemorySink } from '../model/converter/index.ts';
import { MemoryPackSource } from '../model/memory-source.ts';
import { forgeInMemory } from '../model/forge/forge.ts';
import { SeededRandom } from '../util/random.ts';

export interface TrainingMemoryOptions {
  /** Latent batch (default 1); the latent is 16x8, the text 77 tokens wide as the forge makes it. */
  batch?: number;
  fuseAttention?: boolean;
}

export interface TrainingMemoryReport {
  /** Uploaded weights and constants of the three pieces. */
  weightsBytes: number;
  /** In use before the step: weights plus sample, timestep and K/V inputs (the baseline). */
  baselineBytes: number;
  /** Highest in-use bytes during the recorded forward, and during forward plus backward. */
  forwardPeakBytes: number;
  peakBytes: number;
  /** peakBytes - baselineBytes: what the step itself needed at its worst moment. */
  stepPeakBytes: number;
  /** In use after everything the step made was released (equals baselineBytes unless a leak). */
  afterBytes: number;
  /** K/V inputs of the pieces, and how many received a gradient (all, for a connected UNet). */
  kvInputs: number;
  kvGradients: number;
}

export async function measureTrainingMemory(ctx: GpuContext, options: TrainingMemoryOptions = {}): Promise<TrainingMemoryReport> {
  const batch = options.batch ?? 1;
  const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 11, dtype: 'fp32' });
  const sink = new MemorySink();
  const manifest = await convertExport(new MemoryPackSource(files), sink, { plan: 'default' });
  await ctx.sync();
  const beforeLoad = ctx.pool.snapshot().inUseBytes;
  const graphs = await loadUnetPieces(ctx, manifest, async (path) => sink.files.get(path)!, { batch, latentHeight: 16, latentWidth: 8 }, { fuseAttention: options.fuseAttention });
  const given = new Map<string, GpuTensor>();
  try {
    ctx.flush();
    const weightsBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    const rng = new SeededRandom(5);
    for (const graph of graphs)
      for (const input of graph.inputs) {
        if (given.has(input.name) || graphs.some((g) => g.outputs.some((o) => o.name === input.name))) continue;
        const size = input.shape.reduce((a, b) => a * b, 1);
        given.set(input.name, ctx.upload(input.name === 'timestep' ? new Float32Array(size).fill(500) : rng.normalArray(size), input.shape));
      }
    await ctx.sync();
    ctx.flush();
    const baselineBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    ctx.pool.resetPeak();
    // dL/d(out_sample): part of the step, not of the baseline.
    const seed = ctx.upload(rng.normalArray(batch * 4 * 16 * 8), [batch, 4, 16, 8]);
    const pass = new TrainingChain(ctx, graphs).forward(given);
    ctx.flush();
    const forwardPeakBytes = ctx.pool.snapshot().peakInUseBytes - beforeLoad;
    const kvNames = [...given.keys()].filter((name) => /^[kv]_\d+$/.test(name));
    const kv = pass.backward(new Map([['out_sample', seed]]), kvNames);
    await ctx.sync();
    ctx.flush();
    const peakBytes = ctx.pool.snapshot().peakInUseBytes - beforeLoad;
    for (const t of [...kv.values(), seed]) t.release();
    await ctx.sync();
    ctx.flush();
    const afterBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    return { weightsBytes, baselineBytes, forwardPeakBytes, peakBytes, stepPeakBytes: peakBytes - baselineBytes, afterBytes, kvInputs: kvNames.length, kvGradients: kv.size };
  } finally {
    for (const t of given.values()) t.release();
    for (const graph of graphs) graph.release();
  }
}
