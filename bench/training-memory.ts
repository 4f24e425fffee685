/**
 * Peak GPU memory of one training step's graph work on the tiny-sd15 UNet: a recorded forward
 * through down -> mid -> up, then the backward sweep up -> mid -> down for dL/d(K/V inputs)
 * (each piece's tape released after its sweep), read from the BufferPool's counters.
 * Each piece's tape is released by releaseTape after its sweep. Forged in memory,
 * so it runs in Node and in the bench page alike (no Node imports).
 */
import { decodeModel } from '../src/formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../src/formats/onnx/external-data.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { backward } from '../src/gpu/autograd/backward.ts';
import { loadPieceGraph, type PieceGraph } from '../src/gpu/autograd/executor.ts';
import type { TapeEntry } from '../src/gpu/autograd/op-types.ts';
import { binary } from '../src/gpu/kernels/binary.ts';
import type { GpuTensor } from '../src/gpu/tensor.ts';
import { convertExport, memorySource, MemorySink } from '../src/model/converter/index.ts';
import { forgeInMemory } from '../src/model/forge/forge.ts';
import { SeededRandom } from '../src/util/random.ts';

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
  const bindings: Record<string, number> = { batch_size: batch, num_channels: 4, height: 16, width: 8, steps: 1 };
  const dim = (d: number | string): number => {
    if (typeof d === 'number') return d;
    if (d in bindings) return bindings[d];
    const m = /^([A-Za-z_]+?)_div(\d+)$/.exec(d);
    if (m && m[1] in bindings) return bindings[m[1]] / Number(m[2]);
    throw new Error(`training memory: unbound dim ${d}`);
  };
  const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 11, dtype: 'fp32' });
  const sink = new MemorySink();
  const manifest = await convertExport(memorySource(files), sink, { plan: 'default' });
  await ctx.sync();
  const beforeLoad = ctx.pool.snapshot().inUseBytes;
  const pieces: { graph: PieceGraph; outputs: string[] }[] = [];
  const given = new Map<string, GpuTensor>();
  try {
    for (const piece of manifest.pieces) {
      const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
      const model = await inlineExternalData(decodeModel(sink.files.get(piece.file)!, piece.file), piece.file, (location) => externalDataFromBytes(sink.files.get(dir + location)!));
      const shapes = Object.fromEntries(piece.inputs.map((i) => [i.name, i.shape.map(dim)]));
      pieces.push({ graph: loadPieceGraph(ctx, model, shapes, piece.file, { fuseAttention: options.fuseAttention }), outputs: piece.outputs.map((o) => o.name) });
    }
    ctx.flush();
    const weightsBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    const rng = new SeededRandom(5);
    for (const { graph } of pieces)
      for (const input of graph.inputs) {
        if (given.has(input.name)) continue;
        const size = input.shape.reduce((a, b) => a * b, 1);
        given.set(input.name, ctx.upload(input.name === 'timestep' ? new Float32Array(size).fill(500) : rng.normalArray(size), input.shape));
      }
    await ctx.sync();
    ctx.flush();
    const baselineBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    ctx.pool.resetPeak();
    // dL/d(out_sample): part of the step, not of the baseline.
    const seed = ctx.upload(rng.normalArray(batch * 4 * 16 * 8), [batch, 4, 16, 8]);

    const values = new Map(given);
    const tapes: TapeEntry[][] = [];
    const made: GpuTensor[] = [];
    for (const { graph, outputs } of pieces) {
      const result = graph.forward(Object.fromEntries(graph.inputs.map((i) => [i.name, values.get(i.name)!])), { record: true });
      tapes.push(result.tape!);
      for (const name of outputs) {
        values.set(name, result.outputs[name]);
        made.push(result.outputs[name]);
      }
    }
    ctx.flush();
    const forwardPeakBytes = ctx.pool.snapshot().peakInUseBytes - beforeLoad;

    // backward() resets the pool's peak for its own stats: take the maximum over the pieces.
    let peak = ctx.pool.snapshot().peakInUseBytes;
    const grads = new Map<string, GpuTensor>([['out_sample', seed]]);
    const kv: GpuTensor[] = [];
    for (let i = pieces.length - 1; i >= 0; i--) {
      const { graph, outputs } = pieces[i];
      const seeds = new Map(outputs.filter((name) => grads.has(name)).map((name) => [name, grads.get(name)!]));
      const wrt = graph.inputs.map((input) => input.name).filter((name) => name !== 'timestep');
      peak = Math.max(peak, ctx.pool.snapshot().peakInUseBytes);
      const { grads: pieceGrads, stats } = backward(ctx, tapes[i], { seeds, wrt });
      peak = Math.max(peak, stats.peakInUseBytes);
      graph.releaseTape(tapes[i], made);
      for (const name of outputs) if (grads.get(name) !== seed) grads.get(name)?.release();
      for (const [name, g] of pieceGrads) {
        if (/^[kv]_\d+$/.test(name)) kv.push(g);
        else if (name === 'sample') g.release();
        else {
          // A down output can feed both mid and up (skip connection): sum the contributions.
          const previous = grads.get(name);
          if (previous) {
            grads.set(name, binary(ctx, 'add', previous, g));
            previous.release();
            g.release();
          } else grads.set(name, g);
        }
      }
    }
    await ctx.sync();
    ctx.flush();
    const peakBytes = Math.max(peak, ctx.pool.snapshot().peakInUseBytes) - beforeLoad;
    for (const t of [...kv, ...made, seed]) t.release();
    await ctx.sync();
    ctx.flush();
    const afterBytes = ctx.pool.snapshot().inUseBytes - beforeLoad;
    return { weightsBytes, baselineBytes, forwardPeakBytes, peakBytes, stepPeakBytes: peakBytes - baselineBytes, afterBytes, kvInputs: [...given.keys()].filter((name) => /^[kv]_\d+$/.test(name)).length, kvGradients: kv.length };
  } finally {
    for (const t of given.values()) t.release();
    for (const { graph } of pieces) graph.release();
  }
}
