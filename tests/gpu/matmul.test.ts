import { describe, expect, test } from 'vitest';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { testGpu } from '../support/gpu.ts';
import { matmulF64, maxRelError, randn, roundToHalf } from '../support/reference.ts';

const { ctx, report } = await testGpu();

describe('matmul', () => {
  test.each([
    [1, 1, 1],
    [77, 768, 320],
    [65, 33, 129],
    [3, 17, 1],
    [128, 64, 64],
  ])('%i x %i x %i matches float64', async (m, k, n) => {
    const a = randn(m * k, 1);
    const b = randn(k * n, 2);
    const out = matmul(ctx, ctx.upload(a, [m, k]), ctx.upload(b, [k, n]));
    expect(out.shape).toEqual([m, n]);
    expect(maxRelError(await ctx.read(out), matmulF64(a, b, { batch: 1, m, n, k }))).toBeLessThan(1e-5);
  });

  test('4096 x 320 x 320 (SD 1.5 64x64 latent projection) matches float64', async () => {
    const [m, k, n] = [4096, 320, 320];
    const a = randn(m * k, 3);
    const b = randn(k * n, 4);
    const got = await ctx.read(matmul(ctx, ctx.upload(a, [m, k]), ctx.upload(b, [k, n])));
    expect(maxRelError(got, matmulF64(a, b, { batch: 1, m, n, k }))).toBeLessThan(1e-5);
  });

  test.each([
    [false, true],
    [true, false],
    [true, true],
  ])('transposeA=%s transposeB=%s on odd shapes', async (transposeA, transposeB) => {
    const [m, k, n] = [37, 70, 45];
    const a = randn(m * k, 5);
    const b = randn(k * n, 6);
    const shapeA = transposeA ? [k, m] : [m, k];
    const shapeB = transposeB ? [n, k] : [k, n];
    const got = await ctx.read(matmul(ctx, ctx.upload(a, shapeA), ctx.upload(b, shapeB), { transposeA, transposeB }));
    expect(maxRelError(got, matmulF64(a, b, { batch: 1, m, n, k, transposeA, transposeB }))).toBeLessThan(1e-5);
  });

  test('batched with broadcast of a single B, and alpha', async () => {
    const [batch, m, k, n] = [3, 19, 23, 29];
    const a = randn(batch * m * k, 7);
    const b = randn(k * n, 8);
    const out = matmul(ctx, ctx.upload(a, [batch, m, k]), ctx.upload(b, [k, n]), { alpha: 0.5 });
    expect(out.shape).toEqual([batch, m, n]);
    const want = matmulF64(a, b, { batch, m, n, k, batchB: 1 }).map((v) => v * 0.5);
    expect(maxRelError(await ctx.read(out), want)).toBeLessThan(1e-5);
  });

  test('batched [2, 5] x [2, 5] heads with transposeB (attention scores)', async () => {
    const [m, k, n] = [33, 8, 31];
    const a = randn(10 * m * k, 9);
    const b = randn(10 * n * k, 10);
    const out = matmul(ctx, ctx.upload(a, [2, 5, m, k]), ctx.upload(b, [2, 5, n, k]), { transposeB: true });
    expect(out.shape).toEqual([2, 5, m, n]);
    expect(maxRelError(await ctx.read(out), matmulF64(a, b, { batch: 10, m, n, k, transposeB: true }))).toBeLessThan(1e-5);
  });

  test('rejects mismatched inner dimensions with the shapes in the message', () => {
    expect(() => matmul(ctx, ctx.empty([4, 5]), ctx.empty([6, 7]))).toThrow(/inner dimensions differ: \[4,5\] x \[6,7\]/);
  });

  test('f16 storage matches float64 on the f16-rounded inputs', async (t) => {
    if (!report.shaderF16) {
      console.log(`skipping f16 matmul: adapter "${report.description}" lacks shader-f16`);
      t.skip();
    }
    const [m, k, n] = [77, 768, 320];
    const a = roundToHalf(randn(m * k, 11));
    const b = roundToHalf(randn(k * n, 12));
    const got = await ctx.read(matmul(ctx, ctx.upload(a, [m, k], 'f16'), ctx.upload(b, [k, n], 'f16')));
    expect(maxRelError(got, matmulF64(a, b, { batch: 1, m, n, k }))).toBeLessThan(2e-3);
  });
});
