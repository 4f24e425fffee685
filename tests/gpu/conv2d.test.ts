import { expect, test } from 'vitest';
import { conv2d, conv2dOutputShape } from '../../src/gpu/kernels/conv2d.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError, randn } from '../support/reference.ts';

const ctx = await testContext();

/** Direct float64 convolution (ONNX Conv, NCHW). */
function convF64(x: Float64Array, xs: number[], w: Float64Array, ws: number[], bias: Float64Array | null, s: number[], pads: number[], d: number[], groups: number): Float64Array {
  const [n, c, h, wd] = xs;
  const [co, cig, kh, kw] = ws;
  const [, , oh, ow] = conv2dOutputShape(xs, ws, { strides: s as [number, number], pads: pads as [number, number, number, number], dilations: d as [number, number], groups });
  const out = new Float64Array(n * co * oh * ow);
  const cog = co / groups;
  for (let b = 0; b < n; b++)
    for (let o = 0; o < co; o++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let sum = bias ? bias[o] : 0;
          const g = Math.floor(o / cog);
          for (let ci = 0; ci < cig; ci++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * s[0] + ky * d[0] - pads[0];
                const ix = xo * s[1] + kx * d[1] - pads[1];
                if (iy < 0 || ix < 0 || iy >= h || ix >= wd) continue;
                sum += w[((o * cig + ci) * kh + ky) * kw + kx] * x[((b * c + g * cig + ci) * h + iy) * wd + ix];
              }
          out[((b * co + o) * oh + y) * ow + xo] = sum;
        }
  return out;
}

test.each([
  // [input, weight, strides, pads, dilations, groups]
  [[2, 5, 9, 11], [7, 5, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1],
  [[1, 17, 13, 70], [67, 17, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1],
  [[2, 3, 8, 9], [4, 3, 1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1],
  [[1, 6, 10, 9], [9, 2, 3, 2], [1, 2], [2, 0, 1, 3], [2, 1], 3],
] as const)('conv2d %j x %j matches float64 (implicit GEMM and im2col + matmul)', async (xs, ws, s, pads, d, groups) => {
  const x = randn(xs.reduce((a: number, b) => a * b, 1), 1);
  const w = randn(ws.reduce((a: number, b) => a * b, 1), 2, 0.3);
  const bias = randn(ws[0], 3);
  const want = convF64(x, [...xs], w, [...ws], bias, [...s], [...pads], [...d], groups);
  const tx = ctx.upload(x, [...xs]), tw = ctx.upload(w, [...ws]), tb = ctx.upload(bias, [ws[0]]);
  const options = { bias: tb, strides: s as unknown as [number, number], pads: pads as unknown as [number, number, number, number], dilations: d as unknown as [number, number], groups };
  for (const strategy of groups === 1 ? (['implicit', 'im2col'] as const) : (['implicit'] as const)) {
    const out = conv2d(ctx, tx, tw, { ...options, strategy });
    expect(maxRelError(await ctx.read(out), want), strategy).toBeLessThan(1e-5);
    out.release();
  }
  for (const t of [tx, tw, tb]) t.release();
});

test('conv2d names the mismatch', () => {
  expect(() => conv2dOutputShape([1, 4, 5, 5], [3, 3, 3, 3])).toThrow(/do not fit 1 group/);
  expect(() => conv2dOutputShape([1, 3, 2, 2], [3, 3, 5, 5])).toThrow(/does not fit input/);
});
