import { GpuContext } from '../src/gpu/context.ts';
import { matmul } from '../src/gpu/kernels/matmul.ts';
import { createWebGpuSession, gpuInput, type ort } from '../src/pipeline/onnx/ort-web.ts';
import { encodeModel } from '../src/formats/onnx/codec.ts';
import { TensorDataType, type ModelProto } from '../src/formats/onnx/types.ts';
import { SeededRandom } from '../src/util/random.ts';
import { timePerRun } from './timing.ts';

/** SD 1.5 shapes: text K/V projection, and the attention projections at 64/32/16 px latents. */
export const MATMUL_SHAPES: [number, number, number][] = [
  [77, 768, 768],
  [4096, 320, 320],
  [1024, 640, 640],
  [256, 1280, 1280],
];

export interface MatmulBenchRow {
  shape: string;
  oursMs: number;
  ortMs: number;
  oursGflops: number;
  ortGflops: number;
  /** ours / ORT throughput: above 1 means our kernel is faster. */
  ratio: number;
  maxAbsDiff: number;
  /** Worst relative error of either result against float64 on 64 sampled entries. */
  maxRelErrorVsFloat64: number;
}

/** A one-node ONNX graph: Y = A @ B with both operands as inputs, so ORT does the same work. */
function matmulModel(m: number, k: number, n: number): ModelProto {
  const input = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'lethe-bench',
    graph: {
      name: 'matmul',
      node: [{ name: '/MatMul', opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }],
      initializer: [],
      input: [input('A', [m, k]), input('B', [k, n])],
      output: [input('Y', [m, n])],
    },
  };
}

export async function benchMatmul(ctx: GpuContext, log: (line: string) => void): Promise<MatmulBenchRow[]> {
  const rows: MatmulBenchRow[] = [];
  const random = new SeededRandom(1);
  for (const [m, k, n] of MATMUL_SHAPES) {
    const aValues = random.normalArray(m * k);
    const bValues = random.normalArray(k * n);
    const a = ctx.upload(aValues, [m, k]);
    const b = ctx.upload(bValues, [k, n]);
    const out = ctx.empty([m, n]);
    const session = await createWebGpuSession(encodeModel(matmulModel(m, k, n)), ctx.device, { gpuOutputs: true });
    const feeds = { A: gpuInput(a.buffer, [m, k]), B: gpuInput(b.buffer, [k, n]) };
    let lastOrt: ort.Tensor | null = null;
    const sync = async () => {
      ctx.flush();
      await ctx.device.queue.onSubmittedWorkDone();
    };
    const ours = await timePerRun(() => {
      matmul(ctx, a, b, { out });
      ctx.flush();
    }, sync);
    const theirs = await timePerRun(async () => {
      lastOrt?.dispose();
      lastOrt = (await session.run(feeds)).Y;
    }, sync);
    const ortValues = (await (lastOrt as unknown as ort.Tensor).getData(true)) as Float32Array;
    const ourValues = await ctx.read(out);
    let maxAbsDiff = 0;
    for (let i = 0; i < ourValues.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ourValues[i] - ortValues[i]));
    let maxRelErrorVsFloat64 = 0;
    for (let sample = 0; sample < 64; sample++) {
      const row = Math.floor(random.uniform() * m);
      const col = Math.floor(random.uniform() * n);
      let exact = 0;
      let scale = 0;
      for (let p = 0; p < k; p++) {
        exact += aValues[row * k + p] * bValues[p * n + col];
        scale += Math.abs(aValues[row * k + p] * bValues[p * n + col]);
      }
      for (const got of [ourValues[row * n + col], ortValues[row * n + col]]) maxRelErrorVsFloat64 = Math.max(maxRelErrorVsFloat64, Math.abs(got - exact) / scale);
    }
    const flops = 2 * m * n * k;
    const row: MatmulBenchRow = {
      shape: `${m}x${k}x${n}`,
      oursMs: ours.ms,
      ortMs: theirs.ms,
      oursGflops: flops / ours.ms / 1e6,
      ortGflops: flops / theirs.ms / 1e6,
      ratio: theirs.ms / ours.ms,
      maxAbsDiff,
      maxRelErrorVsFloat64,
    };
    rows.push(row);
    log(`matmul ${row.shape}: ours ${row.oursGflops.toFixed(1)} GFLOP/s, ORT ${row.ortGflops.toFixed(1)} GFLOP/s, ratio ${row.ratio.toFixed(2)}`);
    await session.release();
    a.release();
    b.release();
    out.release();
  }
  return rows;
}
