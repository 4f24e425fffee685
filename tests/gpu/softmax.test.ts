import { describe, expect, test } from 'vitest';
import { softmax } from '../../src/gpu/kernels/softmax.ts';
import { reductionStrategy, splitAroundAxes, type ReductionStrategy } from '../../src/gpu/kernels/reduction-plan.ts';
import { testGpu } from '../support/gpu.ts';
import { maxRelError, randn, roundToFloat32, roundToHalf, softmaxF64 } from '../support/reference.ts';

const { ctx, report } = await testGpu();

/** [shape, axis, the strategy the shape picks]. */
const CASES: [number[], number, ReductionStrategy][] = [
  [[2, 3, 5, 77], -1, 'workgroup'], // attention over 77 text tokens
  [[1, 2, 3, 4096], -1, 'workgroup'], // attention over a 64x64 latent
  [[2, 50, 70], 1, 'workgroup'], // strided rows
  [[4, 10, 600], 1, 'thread'],
  [[1, 77, 4096], 1, 'thread'], // long strided rows, one invocation each
  [[9, 1], -1, 'thread'],
];

describe('softmax', () => {
  test.each(CASES)('[%s] along axis %i (%s) matches float64, and so does the other strategy', async (shape, axis, picked) => {
    const split = splitAroundAxes('softmax', shape, axis);
    expect(reductionStrategy(split)).toBe(picked);
    const size = shape.reduce((a, b) => a * b, 1);
    // Scale 30: logits past exp's f32 range (88) unless the maximum is subtracted first.
    const x = roundToFloat32(randn(size, 21, 30));
    const want = softmaxF64(x, shape, axis < 0 ? axis + shape.length : axis);
    const input = ctx.upload(x, shape);
    for (const strategy of [picked, picked === 'thread' ? 'workgroup' : 'thread'] as const) {
      // Skip the slow pairing of thousands of one-workgroup rows on a software adapter.
      if (strategy === 'workgroup' && split.outer * split.inner > 500) continue;
      const got = await ctx.read(softmax(ctx, input, { axis, strategy }));
      expect(maxRelError(got, want), strategy).toBeLessThan(1e-5);
    }
  });

  test('rows sum to one and keep their order for moderate logits', async () => {
    const [rows, n] = [6, 1000];
    const x = roundToFloat32(randn(rows * n, 22));
    const got = await ctx.read(softmax(ctx, ctx.upload(x, [rows, n])));
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += got[r * n + j];
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
    // Relative accuracy of the small probabilities too, not just the largest.
    const want = softmaxF64(x, [rows, n], 1);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] / want[i] - 1));
    expect(worst).toBeLessThan(1e-5);
  });

  test('rejects a bad axis with the shape in the message', () => {
    expect(() => softmax(ctx, ctx.empty([2, 3]), { axis: 2 })).toThrow(/softmax: axis 2 is out of range for shape \[2,3\]/);
  });

  test('f16 storage matches float64 on f16-rounded inputs', async (t) => {
    if (!report.shaderF16) {
      console.log(`skipping f16 softmax: adapter "${report.description}" lacks shader-f16`);
      t.skip();
    }
    const cases: [number[], number][] = [[[2, 3, 77], -1], [[1, 2, 4096], -1], [[4, 10, 600], 1]];
    for (const [shape, axis] of cases) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = roundToHalf(randn(size, 23, 4));
      const got = await ctx.read(softmax(ctx, ctx.upload(x, shape, 'f16'), { axis }));
      expect(maxRelError(got, softmaxF64(x, shape, axis < 0 ? axis + shape.length : axis)), `[${shape}]`).toBeLessThan(2e-3);
    }
  });
});
