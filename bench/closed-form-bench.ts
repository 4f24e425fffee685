/**
 * The closed-form edit at SD 1.5 sizes: d = 768, 32 projections with SD 1.5's attn2 to_k/to_v
 * shapes, 1 concept with 5 corefs and RealEra M = 5 neighbors (11 erase vectors), N = 3
 * beyond samples and 200 preserve prompts (214 constraint vectors in all). Vectors are random
 * with unit RMS entries (norm ~27.7, like CLIP's layer-normed tokens). Timed: the shared-M edit
 * (solve + exact LoRA factors of all 32 projections), the live edit (solve + one 77 x 768
 * embedding edit), and the per-layer path. Imports src/ only, so it runs in Node and the page.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import type { GpuTensor } from '../src/gpu/tensor.ts';
import { exactLora, solveEditOperator, solveLayerDirect, type ClosedFormProblem, type ClosedFormSolver, type EditOperator } from '../src/erasure/closed-form.ts';
import { exactLoraUpsGpu, solveEditOperatorGpu, uploadEditFactors } from '../src/erasure/closed-form-gpu.ts';
import { editTextEmbedding, GpuEmbeddingEdit } from '../src/erasure/edit-embedding.ts';
import { SeededRandom } from '../src/util/random.ts';

export interface ClosedFormBenchRow {
  label: string;
  device: 'cpu' | 'gpu';
  solver: ClosedFormSolver | 'per-layer';
  /** Median wall-clock milliseconds. */
  ms: number;
  runs: number;
  /** max |V^T - V^T_ref| / max |V^T_ref| against the float64 CPU Woodbury solve (NaN when not applicable). */
  relativeError: number;
}

/** SD 1.5's 16 transformer blocks (down 2x320, 2x640, 2x1280; mid 1280; up 3x1280, 3x640, 3x320), to_k and to_v each. */
const BLOCK_WIDTHS = [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320];
const D = 768;
const TOKENS = 77;

export function closedFormBenchProblem(seed = 7): { problem: ClosedFormProblem; layers: { out: number; weight: Float32Array }[]; embedding: Float32Array } {
  const random = new SeededRandom(seed);
  const vector = (): Float64Array => random.normalArray64(D);
  const problem: ClosedFormProblem = {
    width: D,
    lambda: 0.5,
    eraseScale: 1,
    preserveScale: 0.1,
    // 1 target + 5 corefs + M = 5 RealEra neighbors.
    erase: Array.from({ length: 11 }, () => ({ input: vector(), target: vector() })),
    // N = 3 beyond samples + 200 preserve prompts.
    preserve: Array.from({ length: 203 }, () => ({ input: vector() })),
  };
  const layers = BLOCK_WIDTHS.flatMap((out) => [out, out]).map((out) => ({ out, weight: random.normalArray(out * D, 0.02) }));
  return { problem, layers, embedding: random.normalArray(TOKENS * D) };
}

export async function benchClosedForm(options: { ctx?: GpuContext; log: (line: string) => void }): Promise<ClosedFormBenchRow[]> {
  const { ctx, log } = options;
  const { problem, layers, embedding } = closedFormBenchProblem();
  const reference = solveEditOperator(problem, { solver: 'woodbury' });
  const rows: ClosedFormBenchRow[] = [];
  const record = (row: ClosedFormBenchRow): void => {
    rows.push(row);
    const error = Number.isNaN(row.relativeError) ? '' : `, V^T error ${row.relativeError.toExponential(1)}`;
    log(`${row.label} [${row.device}, ${row.solver}]: ${row.ms.toFixed(1)} ms (median of ${row.runs}${error})`);
  };
  const errorOf = (operator: EditOperator): number => maxRelativeError(operator.vt, reference.vt);

  for (const solver of ['woodbury', 'cholesky'] as const) {
    let operator = reference;
    const shared = await median(3, () => {
      operator = solveEditOperator(problem, { solver });
      for (const layer of layers) exactLora(operator, layer.weight, layer.out);
    });
    record({ label: 'shared-M edit: solve + exact LoRA of 32 projections', device: 'cpu', solver, ...shared, relativeError: errorOf(operator) });
    const live = await median(5, () => {
      operator = solveEditOperator(problem, { solver });
      editTextEmbedding(operator, embedding, TOKENS);
    });
    record({ label: 'live edit: solve + edit one 77x768 embedding', device: 'cpu', solver, ...live, relativeError: errorOf(operator) });
  }

  if (ctx) {
    const weights: GpuTensor[] = layers.map((layer) => ctx.upload(layer.weight, [layer.out, D]));
    const gpuEmbedding = ctx.upload(embedding, [TOKENS, D]);
    await ctx.sync();
    for (const solver of ['woodbury', 'cholesky'] as const) {
      let operator: EditOperator = reference;
      const shared = await median(3, async () => {
        operator = await solveEditOperatorGpu(ctx, problem, { solver });
        const factors = uploadEditFactors(ctx, operator);
        const ups = exactLoraUpsGpu(ctx, factors, weights);
        await ctx.sync();
        for (const up of ups) up.release();
        factors.release();
      });
      record({ label: 'shared-M edit: solve + exact LoRA of 32 projections', device: 'gpu', solver, ...shared, relativeError: errorOf(operator) });
      const live = await median(5, async () => {
        operator = await solveEditOperatorGpu(ctx, problem, { solver });
        const edit = GpuEmbeddingEdit.create(ctx, operator);
        const edited = edit.apply(gpuEmbedding);
        await ctx.sync();
        edited.release();
        edit.release();
      });
      record({ label: 'live edit: solve + edit one 77x768 embedding', device: 'gpu', solver, ...live, relativeError: errorOf(operator) });
    }
    for (const weight of weights) weight.release();
    gpuEmbedding.release();
  }

  // The per-layer path factors A for each projection: timed on one 640-wide layer (the mean
  // width is 780), then multiplied by 32.
  const one = layers.find((layer) => layer.out === 640)!;
  const perLayer = await median(1, () => void solveLayerDirect(problem, one.weight, one.out));
  record({ label: 'per-layer solve, ONE 640x768 layer x 32', device: 'cpu', solver: 'per-layer', ms: perLayer.ms * 32, runs: perLayer.runs, relativeError: Number.NaN });
  return rows;
}

async function median(runs: number, run: () => unknown): Promise<{ ms: number; runs: number }> {
  await run(); // warm-up: JIT, pipeline compilation, buffer pool
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], runs };
}

function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    error = Math.max(error, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return error / scale;
}
