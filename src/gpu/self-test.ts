/**
 * Runs every WGSL kernel once on small seeded inputs and compares it with a float64 CPU loop
 * written here (shipped code: the studio's "run kernel self-test" button and `lethe info
 * --self-test` call it on the user's own adapter, where driver differences show up).
 */
import type { GpuContext } from './context.ts';
import type { GpuTensor } from './tensor.ts';
import { affine, binary, BINARY_OP_NAMES, groupNorm, instanceNorm, layerNorm, matmul, reduce, softmax, unary, where, type BinaryOp, type UnaryOp } from './kernels/index.ts';
import { SeededRandom } from '../util/random.ts';
import { float32ToHalfBits, halfBitsToFloat32 } from '../util/half.ts';

export interface KernelCheck {
  name: string;
  /** max |gpu - reference| / max |reference|; Infinity when the kernel failed to run. */
  maxRelError: number;
  passed: boolean;
  ms: number;
  /** Why the kernel could not run (compile or validation error), when it could not. */
  error?: string;
}

/** A check: builds its inputs, runs kernels, returns [gpu output, float64 reference] pairs. */
type Check = (run: Runner) => Promise<[Float32Array, ArrayLike<number>][]>;

interface Runner {
  ctx: GpuContext;
  dtype: 'f32' | 'f16';
  /** Seeded normals, already rounded to the storage type (the reference sees stored values). */
  randn(length: number, scale?: number, shift?: number): Float64Array;
  upload(data: ArrayLike<number>, shape: number[]): GpuTensor;
  read(tensor: GpuTensor): Promise<Float32Array>;
}

// f32 kernels hold 1e-5 against float64 where the math allows (see tests/gpu); the self-test
// allows 1e-4 for the families built on exp/log/pow builtins, whose accuracy WGSL leaves to
// the driver. f16 storage rounds every output to 11 bits (4.9e-4) and inputs likewise.
const F32_TOLERANCE = 1e-5;
const F32_TRANSCENDENTAL_TOLERANCE = 1e-4;
const F16_TOLERANCE = 3e-3;

const CHECKS: { name: string; tolerance: number; check: Check }[] = [
  { name: 'matmul', tolerance: F32_TOLERANCE, check: checkMatmul },
  { name: 'binary ops, broadcast', tolerance: F32_TRANSCENDENTAL_TOLERANCE, check: checkBinary },
  { name: 'unary ops', tolerance: F32_TRANSCENDENTAL_TOLERANCE, check: checkUnary },
  { name: 'where, affine', tolerance: F32_TOLERANCE, check: checkWhereAffine },
  { name: 'reduce (both strategies)', tolerance: F32_TOLERANCE, check: checkReduce },
  { name: 'softmax (both strategies)', tolerance: F32_TRANSCENDENTAL_TOLERANCE, check: checkSoftmax },
  { name: 'layerNorm', tolerance: F32_TOLERANCE, check: checkLayerNorm },
  { name: 'groupNorm, instanceNorm', tolerance: F32_TOLERANCE, check: checkGroupNorm },
];

/** Runs each kernel family in f32 and, where the adapter has shader-f16, in f16 storage. */
export async function selfTest(ctx: GpuContext): Promise<KernelCheck[]> {
  const results: KernelCheck[] = [];
  const dtypes: ('f32' | 'f16')[] = ctx.shaderF16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    for (const [index, { name, tolerance, check }] of CHECKS.entries()) {
      const tensors: GpuTensor[] = [];
      const random = new SeededRandom(1000 + index);
      const runner: Runner = {
        ctx,
        dtype,
        randn: (length, scale = 1, shift = 0) => Float64Array.from({ length }, () => roundTo(dtype, random.normal() * scale + shift)),
        upload: (data, shape) => track(tensors, ctx.upload(Float32Array.from(data), shape, dtype)),
        read: (tensor) => ctx.read(track(tensors, tensor)),
      };
      const start = performance.now();
      let maxRelError = 0;
      let error: string | undefined;
      try {
        for (const [got, want] of await check(runner)) maxRelError = Math.max(maxRelError, relativeError(got, want));
      } catch (cause) {
        maxRelError = Infinity;
        error = cause instanceof Error ? cause.message : String(cause);
      } finally {
        for (const tensor of tensors) tensor.release();
      }
      const ms = performance.now() - start;
      const limit = dtype === 'f16' ? F16_TOLERANCE : tolerance;
      results.push({ name: dtype === 'f16' ? `${name} (f16)` : name, maxRelError, passed: maxRelError < limit, ms, ...(error ? { error } : {}) });
    }
  }
  return results;
}

function track(tensors: GpuTensor[], tensor: GpuTensor): GpuTensor {
  if (!tensors.includes(tensor)) tensors.push(tensor);
  return tensor;
}

function roundTo(dtype: 'f32' | 'f16', value: number): number {
  return dtype === 'f16' ? halfBitsToFloat32(float32ToHalfBits(value)) : Math.fround(value);
}

/** max |got - want| / max |want|; NaN anywhere counts as infinitely wrong. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ---- float64 references: plain loops ----

function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
      out[i * n + j] = sum;
    }
  }
  return out;
}

/** Numpy broadcasting of operands whose shapes all have the output's rank. */
function broadcastRef(shape: number[], operands: { data: ArrayLike<number>; shape: number[] }[], f: (...v: number[]) => number): Float64Array {
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const coords: number[] = [];
    for (let axis = shape.length - 1, rest = i; axis >= 0; axis--) {
      coords[axis] = rest % shape[axis];
      rest = Math.floor(rest / shape[axis]);
    }
    out[i] = f(...operands.map((o) => o.data[o.shape.reduce((index, dim, axis) => index * dim + (dim === 1 ? 0 : coords[axis]), 0)]));
  }
  return out;
}

/** erf as (2/sqrt(pi)) e^(-x^2) sum (2x^2)^n x / (2n+1)!!: positive terms, any x. */
function erfRef(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** [outer, n, inner] reduction along n; `finish` maps the n values of one output. */
function alongAxis(x: ArrayLike<number>, outer: number, n: number, inner: number, finish: (values: number[]) => number[]): number[][] {
  const rows: number[][] = [];
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) rows.push(finish(Array.from({ length: n }, (_, j) => x[(o * n + j) * inner + q])));
  }
  return rows;
}

/** Scatters per-row results of alongAxis back into [outer, n, inner] order. */
function scatter(rows: number[][], outer: number, n: number, inner: number): Float64Array {
  const out = new Float64Array(outer * n * inner);
  rows.forEach((row, r) => {
    const o = Math.floor(r / inner);
    const q = r % inner;
    row.forEach((v, j) => (out[(o * n + j) * inner + q] = v));
  });
  return out;
}

function standardize(values: number[], epsilon: number): number[] {
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return values.map((v) => (v - mean) / Math.sqrt(variance + epsilon));
}

// ---- checks ----

async function checkMatmul(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const [m, k, n] = [33, 47, 29];
  const a = r.randn(m * k);
  const b = r.randn(k * n);
  return [[await r.read(matmul(r.ctx, r.upload(a, [m, k]), r.upload(b, [k, n]))), matmulRef(a, b, m, k, n)]];
}

const BINARY_REF: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => x ** y,
  max: Math.max,
  min: Math.min,
};

async function checkBinary(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const shapeA = [3, 1, 5];
  const shapeB = [1, 4, 5];
  // Positive a and b in [0.5, 1.5]: valid for div and any real pow.
  const a = r.randn(15, 0.2, 1);
  const b = r.randn(20, 0.2, 1);
  const pairs: [Float32Array, ArrayLike<number>][] = [];
  for (const op of BINARY_OP_NAMES) {
    const got = await r.read(binary(r.ctx, op, r.upload(a, shapeA), r.upload(b, shapeB)));
    pairs.push([got, broadcastRef([3, 4, 5], [{ data: a, shape: shapeA }, { data: b, shape: shapeB }], BINARY_REF[op])]);
  }
  return pairs;
}

const sigmoidRef = (v: number): number => 1 / (1 + Math.exp(-v));
const UNARY_REF: Record<UnaryOp, (v: number) => number> = {
  neg: (v) => -v,
  exp: Math.exp,
  log: (v) => Math.log(Math.abs(v)),
  sqrt: (v) => Math.sqrt(Math.abs(v)),
  rsqrt: (v) => 1 / Math.sqrt(Math.abs(v)),
  abs: Math.abs,
  sigmoid: sigmoidRef,
  tanh: Math.tanh,
  erf: erfRef,
  sin: Math.sin,
  cos: Math.cos,
  gelu: (v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)),
  silu: (v) => v * sigmoidRef(v),
  relu: (v) => Math.max(v, 0),
  reciprocal: (v) => 1 / v,
};
/** Ops defined only for positive inputs get |x|; reciprocal gets inputs away from zero. */
const POSITIVE_INPUT = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt']);

async function checkUnary(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const x = r.randn(257, 2);
  const positive = x.map((v) => Math.abs(v) + 0.25);
  const pairs: [Float32Array, ArrayLike<number>][] = [];
  for (const op of Object.keys(UNARY_REF) as UnaryOp[]) {
    const input = POSITIVE_INPUT.has(op) || op === 'reciprocal' ? positive : x;
    const got = await r.read(unary(r.ctx, op, r.upload(input, [257])));
    pairs.push([got, Array.from(input, UNARY_REF[op])]);
  }
  return pairs;
}

async function checkWhereAffine(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const condBits = Int32Array.from({ length: 6 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const a = r.randn(4 * 6);
  const b = r.randn(1);
  const cond = r.ctx.uploadInt32(condBits, [1, 6]);
  try {
    const picked = await r.read(where(r.ctx, cond, r.upload(a, [4, 6]), r.upload(b, [1])));
    const pickedRef = broadcastRef([4, 6], [{ data: condBits, shape: [1, 6] }, { data: a, shape: [4, 6] }, { data: b, shape: [1, 1] }], (c, x, y) => (c !== 0 ? x : y));
    const scaled = await r.read(affine(r.ctx, r.upload(a, [24]), 0.5, -0.25));
    return [[picked, pickedRef], [scaled, Array.from(a, (v) => v * 0.5 - 0.25)]];
  } finally {
    cond.release();
  }
}

async function checkReduce(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const pairs: [Float32Array, ArrayLike<number>][] = [];
  // [outer, n, inner] with the reduced axis in the middle; both strategies on the same data.
  const [outer, n, inner] = [3, 70, 5];
  const x = r.randn(outer * n * inner);
  const input = r.upload(x, [outer, n, inner]);
  const refs = {
    sum: (v: number[]) => [v.reduce((a, b) => a + b, 0)],
    mean: (v: number[]) => [v.reduce((a, b) => a + b, 0) / v.length],
    max: (v: number[]) => [Math.max(...v)],
    min: (v: number[]) => [Math.min(...v)],
    sumSquares: (v: number[]) => [v.reduce((a, b) => a + b * b, 0)],
  };
  for (const [op, ref] of Object.entries(refs) as [keyof typeof refs, (v: number[]) => number[]][]) {
    const want = alongAxis(x, outer, n, inner, ref).flat();
    for (const strategy of ['workgroup', 'thread'] as const) pairs.push([await r.read(reduce(r.ctx, op, input, { axis: 1, strategy })), want]);
  }
  return pairs;
}

async function checkSoftmax(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const [outer, n, inner] = [2, 77, 3];
  const x = r.randn(outer * n * inner, 4);
  const input = r.upload(x, [outer, n, inner]);
  const softmaxRow = (v: number[]): number[] => {
    const m = Math.max(...v);
    const e = v.map((u) => Math.exp(u - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((u) => u / s);
  };
  const want = scatter(alongAxis(x, outer, n, inner, softmaxRow), outer, n, inner);
  const pairs: [Float32Array, ArrayLike<number>][] = [];
  for (const strategy of ['workgroup', 'thread'] as const) pairs.push([await r.read(softmax(r.ctx, input, { axis: 1, strategy })), want]);
  return pairs;
}

async function checkLayerNorm(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const [rows, n] = [7, 96];
  // A large common offset: the kernel's statistics must not lose the small spread to it.
  const x = r.randn(rows * n, 0.1, r.dtype === 'f16' ? 4 : 50);
  const gamma = r.randn(n);
  const beta = r.randn(n);
  const got = await r.read(layerNorm(r.ctx, r.upload(x, [rows, n]), { gamma: r.upload(gamma, [n]), beta: r.upload(beta, [n]), epsilon: 1e-5 }));
  const want = alongAxis(x, rows, n, 1, (v) => standardize(v, 1e-5).map((u, j) => u * gamma[j] + beta[j]));
  return [[got, scatter(want, rows, n, 1)]];
}

async function checkGroupNorm(r: Runner): Promise<[Float32Array, ArrayLike<number>][]> {
  const [batch, channels, spatial, groups] = [2, 12, 35, 4];
  const x = r.randn(batch * channels * spatial, 2, 1);
  const gamma = r.randn(channels);
  const beta = r.randn(channels);
  const perGroup = (channels / groups) * spatial;
  const affineChannel = (g: number) => (u: number, j: number) => {
    const c = g * (channels / groups) + Math.floor(j / spatial);
    return u * gamma[c] + beta[c];
  };
  // Rows of alongAxis are (batch, group) blocks, contiguous in NCHW.
  const grouped = alongAxis(x, batch * groups, perGroup, 1, (v) => v).map((v, row) => standardize(v, 1e-6).map(affineChannel(row % groups)));
  const instanced = alongAxis(x, batch * channels, spatial, 1, (v) => v).map((v, row) => standardize(v, 1e-5).map((u) => u * gamma[row % channels] + beta[row % channels]));
  const input = r.upload(x, [batch, channels, spatial]);
  const g = r.upload(gamma, [channels]);
  const b = r.upload(beta, [channels]);
  return [
    [await r.read(groupNorm(r.ctx, input, { groups, gamma: g, beta: b, epsilon: 1e-6 })), grouped.flat()],
    [await r.read(instanceNorm(r.ctx, input, g, b, { epsilon: 1e-5 })), instanced.flat()],
  ];
}

/** The f32 check names, in order (f16 rows repeat them with an " (f16)" suffix). */
export const SELF_TEST_NAMES = CHECKS.map((c) => c.name);
