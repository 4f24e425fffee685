import { describe, expect, test } from 'vitest';
import { reduce, REDUCE_OP_NAMES, type ReduceOp } from '../../src/gpu/kernels/reduce.ts';
import { reductionStrategy, splitAroundAxes, type ReductionStrategy } from '../../src/gpu/kernels/reduction-plan.ts';
import { testGpu } from '../support/gpu.ts';
import { maxRelError, randn, reduceF64, roundToFloat32, roundToHalf } from '../support/reference.ts';

const { ctx, report } = await testGpu();

/** [shape, axis, the strategy the shape should pick]. */
const CASES: [number[], number, ReductionStrategy][] = [
  [[7, 333], -1, 'workgroup'],
  [[3, 200, 40], 1, 'workgroup'], // strided rows: few outputs, so still one workgroup each
  [[1, 4097], 1, 'workgroup'],
  [[5, 9, 100], 1, 'thread'], // short rows
  [[2, 100, 1100], 1, 'thread'], // wide inner: neighbouring invocations read neighbouring addresses
  [[13], 0, 'thread'],
];

describe('reduce', () => {
  test('picks a strategy from the shape', () => {
    for (const [shape, axis, strategy] of CASES) expect(reductionStrategy(splitAroundAxes('t', shape, axis)), `[${shape}] axis ${axis}`).toBe(strategy);
  });

  test.each(REDUCE_OP_NAMES)('%s matches float64 along any axis, on both strategies', async (op: ReduceOp) => {
    for (const [shape, axis, picked] of CASES) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = roundToFloat32(randn(size, 11));
      const input = ctx.upload(x, shape);
      const normalized = axis < 0 ? axis + shape.length : axis;
      const want = reduceF64(x, shape, normalized, normalized, op);
      for (const strategy of [picked, picked === 'thread' ? 'workgroup' : 'thread'] as const) {
        const got = await ctx.read(reduce(ctx, op, input, { axis, strategy }));
        expect(maxRelError(got, want), `${op} [${shape}] axis ${axis} ${strategy}`).toBeLessThan(1e-5);
      }
    }
  });

  test('keepdims, adjacent axes, and output shapes', async () => {
    const shape = [2, 3, 4, 5];
    const x = roundToFloat32(randn(120, 12));
    const input = ctx.upload(x, shape);
    const kept = reduce(ctx, 'mean', input, { axis: [1, 2], keepdims: true });
    expect(kept.shape).toEqual([2, 1, 1, 5]);
    expect(maxRelError(await ctx.read(kept), reduceF64(x, shape, 1, 2, 'mean'))).toBeLessThan(1e-6);
    expect(reduce(ctx, 'sum', input, { axis: [-1, -2] }).shape).toEqual([2, 3]);
    expect(reduce(ctx, 'max', input).shape).toEqual([2, 3, 4]);
    expect(() => reduce(ctx, 'sum', input, { axis: [0, 2] })).toThrow(/reduce sum: axes \[0,2\] of \[2,3,4,5\] must be adjacent/);
    expect(() => reduce(ctx, 'sum', input, { axis: 4 })).toThrow(/reduce sum: axis 4 is out of range for shape \[2,3,4,5\]/);
  });

  test('more than 65535 outputs on the workgroup strategy use a 2-D grid', async () => {
    const shape = [66_000, 2];
    const x = roundToFloat32(randn(132_000, 13));
    const got = await ctx.read(reduce(ctx, 'sum', ctx.upload(x, shape), { strategy: 'workgroup' }));
    expect(maxRelError(got, reduceF64(x, shape, 1, 1, 'sum'))).toBeLessThan(1e-6);
  });

  test('f16 storage matches float64 on f16-rounded inputs', async (t) => {
    if (!report.shaderF16) {
      console.log(`skipping f16 reduce: adapter "${report.description}" lacks shader-f16`);
      t.skip();
    }
    const shape = [3, 200, 40];
    const x = roundToHalf(randn(24_000, 14));
    for (const op of REDUCE_OP_NAMES) {
      const got = await ctx.read(reduce(ctx, op, ctx.upload(x, shape, 'f16'), { axis: 1 }));
      expect(maxRelError(got, reduceF64(x, shape, 1, 1, op)), op).toBeLessThan(2e-3);
    }
  });
});
