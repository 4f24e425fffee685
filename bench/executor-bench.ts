/**
 * One tiny-sd15 UNet forward (batch 2, 16x8 latent, all three pieces chained on the GPU) with
 * the WGSL graph executor. The forged pack is made in memory, so this runs in Node and in the
 * bench page alike (no Node imports). Also times the two Conv strategies on an SD-sized layer.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { loadUnetPieces, runPieces } from '../src/training/unet-pieces.ts';
import { conv2d } from '../src/gpu/kernels/conv2d.ts';
import type { GpuTensor } from '../src/gpu/tensor.ts';
import { convertExport, MemorySink } from '../src/model/converter/index.ts';
import { MemoryPackSource } from '../src/model/memory-source.ts';
import { forgeInMemory } from '../src/model/forge/forge.ts';
import { SeededRandom } from '../src/util/random.ts';
import { timePerRun } from './timing.ts';

export interface ExecutorBenchResult {
  /** Median-free mean ms of one chained UNet forward (down + mid + up), after warm-up. */
  unetForwardMs: number;
  runs: number;
  /** GPU compute nodes across the three pieces, and shape nodes folded away at load. */
  nodes: number;
  folded: number;
  /** ms to fold and upload the three pieces (first load, includes no shader compiles). */
  loadMs: number;
  /** Conv C->C 3x3 pad 1 (default [2, 320, 64, 64], an SD 1.5 down-block conv): both strategies. */
  conv: { implicitMs: number; im2colMs: number };
}

export interface ExecutorBenchOptions {
  /** Conv input [N, C, H, W] for the strategy comparison (C -> C, 3x3, pad 1). Default [2, 320, 64, 64]. */
  convInput?: readonly [number, number, number, number];
}

export async function benchExecutorForward(ctx: GpuContext, log: (line: string) => void = () => {}, options: ExecutorBenchOptions = {}): Promise<ExecutorBenchResult> {
  const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 11, dtype: 'fp32' });
  const sink = new MemorySink();
  const manifest = await convertExport(new MemoryPackSource(files), sink, { plan: 'default' });
  const loadStart = performance.now();
  const graphs = await loadUnetPieces(ctx, manifest, async (path) => sink.files.get(path)!, { batch: 2, latentHeight: 16, latentWidth: 8 });
  const loadMs = performance.now() - loadStart;
  const rng = new SeededRandom(5);
  const given = new Map<string, GpuTensor>();
  for (const graph of graphs)
    for (const input of graph.inputs) {
      if (given.has(input.name) || !(input.name === 'sample' || input.name === 'timestep' || /^[kv]_\d+$/.test(input.name))) continue;
      const size = input.shape.reduce((a, b) => a * b, 1);
      given.set(input.name, ctx.upload(input.name === 'timestep' ? Float32Array.from([500, 21]) : rng.normalArray(size), input.shape));
    }
  const unet = (): void => runPieces(graphs, given).release();
  const forward = await timePerRun(unet, () => ctx.sync(), 1000, 30);
  const nodes = graphs.reduce((n, g) => n + g.nodes.length, 0);
  const folded = graphs.reduce((n, g) => n + g.foldedCount, 0);
  log(`tiny-sd15 UNet forward, batch 2, 16x8 latent: ${forward.ms.toFixed(2)} ms (${forward.runs} runs, ${nodes} GPU nodes, ${folded} folded at load, load ${loadMs.toFixed(0)} ms)`);
  for (const t of given.values()) t.release();
  for (const graph of graphs) graph.release();

  const [n, c, h, wd] = options.convInput ?? [2, 320, 64, 64];
  const x = ctx.upload(rng.normalArray(n * c * h * wd), [n, c, h, wd]);
  const w = ctx.upload(rng.normalArray(c * c * 9, 0.02), [c, c, 3, 3]);
  const b = ctx.upload(rng.normalArray(c), [c]);
  const conv = async (strategy: 'implicit' | 'im2col'): Promise<number> =>
    (await timePerRun(() => conv2d(ctx, x, w, { bias: b, pads: [1, 1, 1, 1], strategy }).release(), () => ctx.sync(), 500, 20)).ms;
  const implicitMs = await conv('implicit');
  const im2colMs = await conv('im2col');
  log(`Conv ${c}->${c} 3x3 pad 1 on [${n}, ${c}, ${h}, ${wd}]: implicit GEMM ${implicitMs.toFixed(2)} ms, im2col + matmul ${im2colMs.toFixed(2)} ms`);
  for (const t of [x, w, b]) t.release();
  return { unetForwardMs: forward.ms, runs: forward.runs, nodes, folded, loadMs, conv: { implicitMs, im2colMs } };
}
