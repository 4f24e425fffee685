import { describe, expect, test } from 'vitest';
import { binary, BINARY_OP_NAMES, type BinaryOp } from '../../src/gpu/kernels/binary.ts';
import { broadcastLayout, broadcastShapes } from '../../src/gpu/kernels/broadcast.ts';
import { flatGrid } from '../../src/gpu/kernels/grid.ts';
import { affine, unary, type UnaryOp } from '../../src/gpu/kernels/unary.ts';
import { where } from '../../src/gpu/kernels/where.ts';
import { testGpu } from '../support/gpu.ts';
import { broadcastMapF64, erfF64, maxRelError, randn, roundToFloat32, roundToHalf, uniformArray } from '../support/reference.ts';

const { ctx, report } = await testGpu();

const BINARY_F64: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => x ** y,
  max: Math.max,
  min: Math.min,
};

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Each op: its float64 definition, a domain to sample, and the accepted relative error. */
const UNARY_CASES: Record<UnaryOp, { f: (v: number) => number; low: number; high: number; tolerance: number }> = {
  neg: { f: (v) => -v, low: -5, high: 5, tolerance: 0 },
  // exp and log are WGSL builtins: exp may be off by 3 + 2|x| ulp (2e-6 at x = 8), log by
  // 2^-21 absolute near 1. SwiftShader measures 3.5e-7 and 6e-8; the bound leaves room for GPUs.
  exp: { f: Math.exp, low: -8, high: 8, tolerance: 1e-5 },
  log: { f: Math.log, low: 1e-3, high: 100, tolerance: 1e-5 },
  sqrt: { f: Math.sqrt, low: 0, high: 50, tolerance: 1e-6 },
  rsqrt: { f: (v) => 1 / Math.sqrt(v), low: 0.01, high: 50, tolerance: 1e-5 },
  abs: { f: Math.abs, low: -5, high: 5, tolerance: 0 },
  sigmoid: { f: sigmoid, low: -30, high: 30, tolerance: 1e-6 },
  tanh: { f: Math.tanh, low: -12, high: 12, tolerance: 1e-6 },
  erf: { f: erfF64, low: -6, high: 6, tolerance: 1e-6 },
  // sin/cos over timestep-embedding arguments; the reference sees the same f32 arguments.
  sin: { f: Math.sin, low: -1000, high: 1000, tolerance: 1e-6 },
  cos: { f: Math.cos, low: -1000, high: 1000, tolerance: 1e-6 },
  gelu: { f: (v) => 0.5 * v * (1 + erfF64(v / Math.SQRT2)), low: -8, high: 8, tolerance: 1e-6 },
  silu: { f: (v) => v * sigmoid(v), low: -20, high: 20, tolerance: 1e-6 },
  relu: { f: (v) => Math.max(v, 0), low: -5, high: 5, tolerance: 0 },
  reciprocal: { f: (v) => 1 / v, low: 0.1, high: 10, tolerance: 1e-6 },
};

describe('broadcast layout', () => {
  test('broadcastShapes follows numpy and names the shapes on failure', () => {
    expect(broadcastShapes('t', [2, 1, 5], [3, 1], [])).toEqual([2, 3, 5]);
    expect(broadcastShapes('t', [], [])).toEqual([]);
    expect(() => broadcastShapes('add', [2, 3], [4, 3])).toThrow(/add: shapes \[2,3\], \[4,3\] do not broadcast \(axis -2: 2 vs 4\)/);
  });

  test('merges axes every operand walks contiguously, innermost first', () => {
    expect(broadcastLayout('t', [4, 5, 6], [[4, 5, 6], [4, 5, 6]])).toEqual({ shape: [120], strides: [[1], [1]] });
    // b broadcasts along the middle axis only.
    expect(broadcastLayout('t', [4, 5, 6], [[4, 5, 6], [4, 1, 6]])).toEqual({ shape: [6, 5, 4], strides: [[1, 6, 30], [1, 0, 6]] });
    // A bias over the last axis: two axes.
    expect(broadcastLayout('t', [2, 3, 7], [[2, 3, 7], [7]])).toEqual({ shape: [7, 6], strides: [[1, 7], [1, 0]] });
  });

  test('rejects more than 6 interleaved broadcast axes', () => {
    expect(() => broadcastLayout('mul', [2, 2, 2, 2, 2, 2, 2], [[2, 1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2, 1]])).toThrow(/mul: .* needs 7 axes after merging, over the kernel's 6/);
  });

  test('flatGrid folds large workgroup counts into two dimensions', () => {
    expect(flatGrid(10, 65535)).toEqual([10, 1]);
    const [x, y] = flatGrid(200_000, 65535);
    expect(y).toBe(4);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
    expect(x).toBeLessThanOrEqual(65535);
  });
});

describe('binary', () => {
  const shapes: [number[], number[]][] = [
    [[2, 1, 5, 7], [3, 1, 7]],
    [[37, 41], [37, 41]],
    [[], [13]],
    [[2, 1, 3, 1, 5, 1], [1, 4, 1, 2, 1, 3]],
  ];
  test.each(BINARY_OP_NAMES)('%s broadcasts like numpy on odd shapes up to rank 6', async (op) => {
    for (const [shapeA, shapeB] of shapes) {
      const sizeA = shapeA.reduce((a, b) => a * b, 1);
      const sizeB = shapeB.reduce((a, b) => a * b, 1);
      // pow: positive base with any exponent; div: divisors away from zero.
      const a = roundToFloat32(op === 'pow' ? uniformArray(sizeA, 1, 0.2, 3) : randn(sizeA, 1));
      const b = roundToFloat32(op === 'pow' ? uniformArray(sizeB, 2, -3, 3) : op === 'div' ? uniformArray(sizeB, 2, 0.5, 2) : randn(sizeB, 2));
      const want = broadcastMapF64([{ data: a, shape: shapeA }, { data: b, shape: shapeB }], BINARY_F64[op]);
      const out = binary(ctx, op, ctx.upload(a, shapeA), ctx.upload(b, shapeB));
      expect(out.shape).toEqual(want.shape);
      // pow goes through exp2(y log2 x): ~1e-6 relative for |y log2 x| < 5.
      expect(maxRelError(await ctx.read(out), want.data), `[${shapeA}] ${op} [${shapeB}]`).toBeLessThan(op === 'pow' ? 1e-5 : 1e-6);
    }
  });

  test('pow of a negative base is real for integral exponents', async () => {
    const x = [-2, -1.5, -0.5, 0, 0.5, 3];
    const y = [2, 3, -1, 0.5, 0, 4];
    const got = await ctx.read(binary(ctx, 'pow', ctx.upload(x.flatMap((v) => y.map(() => v)), [6, 6]), ctx.upload(y, [6])));
    const want = x.flatMap((v) => y.map((e) => (v < 0 && !Number.isInteger(e) ? NaN : v ** e)));
    want.forEach((w, i) => {
      if (Number.isNaN(w)) expect(got[i]).toBeNaN();
      else expect(got[i]).toBeCloseTo(w, 5);
    });
  });

  test('an output past 65535 * 64 elements uses a 2-D grid and covers every element', async () => {
    const n = 5_000_003;
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    const got = await ctx.read(binary(ctx, 'add', ctx.upload(a, [n]), ctx.upload([0.5], [1])));
    let wrong = 0;
    for (let i = 0; i < n; i++) if (got[i] !== Math.fround(i + 0.5)) wrong++;
    expect(wrong).toBe(0);
  });

  test('writes into `out`, and rejects an out that aliases an input or mixed dtypes', async () => {
    const a = ctx.upload([1, 2, 3], [3]);
    const b = ctx.upload([10, 20, 30], [3]);
    const out = ctx.empty([3]);
    expect(binary(ctx, 'sub', a, b, { out })).toBe(out);
    expect(Array.from(await ctx.read(out))).toEqual([-9, -18, -27]);
    expect(() => binary(ctx, 'add', a, b, { out: a })).toThrow(/shares its buffer with an input/);
    expect(() => binary(ctx, 'add', a, ctx.empty([3], 'i32'))).toThrow(/binary add: operands must share a float dtype, got \[3\] f32, \[3\] i32/);
    expect(() => binary(ctx, 'add', a, ctx.empty([4]))).toThrow(/binary add: shapes \[3\], \[4\] do not broadcast/);
  });
});

describe('unary', () => {
  test.each(Object.keys(UNARY_CASES) as UnaryOp[])('%s matches float64 over its domain', async (op) => {
    const { f, low, high, tolerance } = UNARY_CASES[op];
    const n = 2053;
    // An even grid including both ends, so the tails (erf, sigmoid saturation) are covered.
    const x = roundToFloat32(Array.from({ length: n }, (_, i) => low + ((high - low) * i) / (n - 1)));
    const got = await ctx.read(unary(ctx, op, ctx.upload(x, [n])));
    expect(maxRelError(got, x.map(f))).toBeLessThanOrEqual(tolerance);
  });

  test('erf absolute error over [-6, 6] stays within two f32 ulps of 1', async () => {
    const n = 120_001;
    const x = roundToFloat32(Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1)));
    const got = await ctx.read(unary(ctx, 'erf', ctx.upload(x, [n])));
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - erfF64(x[i])));
    expect(worst).toBeLessThan(1.2e-7);
    // Odd symmetry and small-argument relative accuracy (no 1 - (1 - x) cancellation).
    const small = await ctx.read(unary(ctx, 'erf', ctx.upload([1e-3, -1e-3, 1e-6], [3])));
    expect(Math.abs(small[0] / erfF64(Math.fround(1e-3)) - 1)).toBeLessThan(1e-6);
    expect(small[1]).toBe(-small[0]);
    expect(Math.abs(small[2] / erfF64(Math.fround(1e-6)) - 1)).toBeLessThan(1e-6);
  });

  test('rejects op names it does not know, including Object.prototype keys', () => {
    const x = ctx.empty([3]);
    expect(() => unary(ctx, 'toString' as UnaryOp, x)).toThrow(/unary: unknown op "toString"/);
    expect(() => binary(ctx, 'hypot' as BinaryOp, x, x)).toThrow(/binary: unknown op "hypot"/);
  });

  test('affine computes x * scale + bias', async () => {
    const x = roundToFloat32(randn(777, 3));
    const got = await ctx.read(affine(ctx, ctx.upload(x, [7, 111]), 0.18215, -1.5));
    expect(maxRelError(got, x.map((v) => v * Math.fround(0.18215) - 1.5))).toBeLessThan(1e-6);
    expect(() => affine(ctx, ctx.upload(x, [777]), Number.NaN, 0)).toThrow(/affine: scale and bias must be finite/);
  });
});

describe('where', () => {
  test.each(['i32', 'u32'] as const)('selects with %s cond, broadcasting all three operands', async (condType) => {
    const condShape = [3, 1, 5];
    const cond = Array.from({ length: 15 }, (_, i) => (i * 7) % 3 === 0 ? 0 : condType === 'i32' ? -1 : 7);
    const a = roundToFloat32(randn(4 * 5, 4));
    const b = roundToFloat32(randn(1, 5));
    const condTensor = ctx.empty(condShape, condType);
    ctx.writeTensor(condTensor, condType === 'i32' ? Int32Array.from(cond) : Uint32Array.from(cond));
    const out = where(ctx, condTensor, ctx.upload(a, [4, 5]), ctx.upload(b, [1]));
    const want = broadcastMapF64([{ data: cond, shape: condShape }, { data: a, shape: [4, 5] }, { data: b, shape: [1] }], (c, x, y) => (c !== 0 ? x : y));
    expect(out.shape).toEqual([3, 4, 5]);
    expect(Array.from(await ctx.read(out))).toEqual(Array.from(want.data));
  });

  test('rejects a float cond', () => {
    expect(() => where(ctx, ctx.empty([2]), ctx.empty([2]), ctx.empty([2]))).toThrow(/where: cond \[2\] must be i32 or u32, got f32/);
  });
});

describe('f16 storage', () => {
  test('binary, unary and where match float64 on f16-rounded inputs', async (t) => {
    if (!report.shaderF16) {
      console.log(`skipping f16 elementwise: adapter "${report.description}" lacks shader-f16`);
      t.skip();
    }
    const a = roundToHalf(randn(2 * 3 * 5 * 7, 5));
    const b = roundToHalf(randn(3 * 1 * 7, 6));
    const half = (data: Float64Array, shape: number[]) => ctx.upload(data, shape, 'f16');
    for (const op of BINARY_OP_NAMES.filter((o) => o !== 'pow' && o !== 'div')) {
      const want = broadcastMapF64([{ data: a, shape: [2, 3, 5, 7] }, { data: b, shape: [3, 1, 7] }], BINARY_F64[op]);
      expect(maxRelError(await ctx.read(binary(ctx, op, half(a, [2, 3, 5, 7]), half(b, [3, 1, 7]))), want.data), op).toBeLessThan(2e-3);
    }
    for (const op of ['gelu', 'erf', 'exp', 'silu', 'sin'] as UnaryOp[]) {
      expect(maxRelError(await ctx.read(unary(ctx, op, half(a, [210]))), a.map(UNARY_CASES[op].f)), op).toBeLessThan(2e-3);
    }
    const condBits = Int32Array.from({ length: 7 }, (_, i) => i % 2);
    const picked = where(ctx, ctx.uploadInt32(condBits, [7]), half(a, [30, 7]), half(b.subarray(0, 1), [1]));
    const want = broadcastMapF64([{ data: condBits, shape: [7] }, { data: a, shape: [30, 7] }, { data: b.subarray(0, 1), shape: [1] }], (c, x, y) => (c !== 0 ? x : y));
    expect(Array.from(await ctx.read(picked))).toEqual(Array.from(want.data));
  });
});
