import { describe, expect, test } from 'vitest';
import { groupNorm } from '../../src/gpu/kernels/group-norm.ts';
import { instanceNorm } from '../../src/gpu/kernels/instance-norm.ts';
import { layerNorm } from '../../src/gpu/kernels/layer-norm.ts';
import { testGpu } from '../support/gpu.ts';
import { groupNormF64, layerNormF64, maxRelError, randn, roundToFloat32, roundToHalf } from '../support/reference.ts';

const { ctx, report } = await testGpu();

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

describe('layerNorm', () => {
  test.each([
    [[77, 768], -1, true],
    [[3, 5, 7], 1, true], // normalizes the last two axes, gamma over [5, 7]
    [[2, 9, 333], -1, false],
    [[4, 1], -1, false], // a single element per row: output is beta
  ] as const)('[%s] from axis %i (gamma/beta %s) matches float64', async (shape, axis, affine) => {
    const x = roundToFloat32(randn(sizeOf(shape), 31, 3));
    const first = axis < 0 ? axis + shape.length : axis;
    const n = sizeOf(shape.slice(first));
    const gamma = affine ? roundToFloat32(randn(n, 32)) : undefined;
    const beta = affine ? roundToFloat32(randn(n, 33)) : undefined;
    const out = layerNorm(ctx, ctx.upload(x, [...shape]), {
      axis,
      gamma: gamma && ctx.upload(gamma, shape.slice(first)),
      beta: beta && ctx.upload(beta, shape.slice(first)),
    });
    expect(out.shape).toEqual(shape);
    expect(maxRelError(await ctx.read(out), layerNormF64(x, shape, first, 1e-5, gamma, beta))).toBeLessThan(1e-5);
  });

  test('stays accurate for activations with mean 100 and std 0.01', async () => {
    const [rows, n] = [16, 768];
    const x = roundToFloat32(randn(rows * n, 34, 0.01).map((v) => v + 100));
    const got = await ctx.read(layerNorm(ctx, ctx.upload(x, [rows, n]), { epsilon: 1e-12 }));
    expect(maxRelError(got, layerNormF64(x, [rows, n], 1, 1e-12))).toBeLessThan(1e-5);
  });

  test('rejects gamma of the wrong size, naming both shapes', () => {
    expect(() => layerNorm(ctx, ctx.empty([4, 6]), { gamma: ctx.empty([5]) })).toThrow(/layerNorm: gamma \[5\] must have 6 elements for input \[4,6\]/);
  });
});

describe('groupNorm', () => {
  test.each([
    [[2, 64, 9, 7], 8, 1e-5],
    [[1, 320, 64, 64], 32, 1e-6], // SD 1.5's first UNet GroupNorm
    [[3, 6], 3, 1e-5], // no spatial axes
    [[2, 12, 5], 1, 1e-5], // one group: LayerNorm over C and spatial
  ] as const)('[%s] with %i groups, eps %f, matches float64', async (shape, groups, epsilon) => {
    const channels = shape[1];
    const x = roundToFloat32(randn(sizeOf(shape), 41, 2).map((v, i) => v + (i % 5)));
    const gamma = roundToFloat32(randn(channels, 42));
    const beta = roundToFloat32(randn(channels, 43));
    const out = groupNorm(ctx, ctx.upload(x, [...shape]), { groups, gamma: ctx.upload(gamma, [channels]), beta: ctx.upload(beta, [channels]), epsilon });
    expect(maxRelError(await ctx.read(out), groupNormF64(x, shape, groups, epsilon, gamma, beta))).toBeLessThan(1e-5);
  });

  test('without gamma/beta, and with a large mean', async () => {
    const shape = [2, 16, 5, 3];
    const x = roundToFloat32(randn(sizeOf(shape), 44, 0.01).map((v) => v - 100));
    const got = await ctx.read(groupNorm(ctx, ctx.upload(x, shape), { groups: 4 }));
    expect(maxRelError(got, groupNormF64(x, shape, 4, 1e-5))).toBeLessThan(1e-5);
  });

  test('rejects groups that do not divide the channels', () => {
    expect(() => groupNorm(ctx, ctx.empty([1, 10, 4]), { groups: 4 })).toThrow(/groupNorm: 4 groups do not divide the 10 channels of \[1,10,4\]/);
    expect(() => groupNorm(ctx, ctx.empty([1, 8, 4]), { groups: 4, gamma: ctx.empty([4]) })).toThrow(/groupNorm: gamma \[4\] must have 8 elements/);
  });
});

describe('instanceNorm', () => {
  test('matches float64 GroupNorm with one channel per group (ONNX InstanceNormalization)', async () => {
    const shape = [2, 5, 11, 13];
    const x = roundToFloat32(randn(sizeOf(shape), 51, 3));
    const scale = roundToFloat32(randn(5, 52));
    const bias = roundToFloat32(randn(5, 53));
    const got = await ctx.read(instanceNorm(ctx, ctx.upload(x, shape), ctx.upload(scale, [5]), ctx.upload(bias, [5]), { epsilon: 1e-6 }));
    expect(maxRelError(got, groupNormF64(x, shape, 5, 1e-6, scale, bias))).toBeLessThan(1e-5);
  });

  test('rejects inputs without spatial axes and scales of the wrong size', () => {
    expect(() => instanceNorm(ctx, ctx.empty([2, 5]), ctx.empty([5]), ctx.empty([5]))).toThrow(/instanceNorm: input \[2,5\] needs shape \[N, C, D1, \.\.\.\]/);
    expect(() => instanceNorm(ctx, ctx.empty([2, 5, 3]), ctx.empty([2]), ctx.empty([5]))).toThrow(/instanceNorm: gamma \[2\] must have 5 elements/);
  });
});

describe('f16 storage', () => {
  test('layerNorm, groupNorm and instanceNorm match float64 on f16-rounded inputs', async (t) => {
    if (!report.shaderF16) {
      console.log(`skipping f16 normalization: adapter "${report.description}" lacks shader-f16`);
      t.skip();
    }
    const half = (data: Float64Array, shape: readonly number[]) => ctx.upload(data, [...shape], 'f16');
    const x = roundToHalf(randn(2 * 64 * 9 * 7, 61, 2));
    const gamma = roundToHalf(randn(64, 62));
    const beta = roundToHalf(randn(64, 63));
    const grouped = groupNorm(ctx, half(x, [2, 64, 9, 7]), { groups: 8, gamma: half(gamma, [64]), beta: half(beta, [64]) });
    expect(maxRelError(await ctx.read(grouped), groupNormF64(x, [2, 64, 9, 7], 8, 1e-5, gamma, beta))).toBeLessThan(2e-3);
    const instance = instanceNorm(ctx, half(x, [2, 64, 63]), half(gamma, [64]), half(beta, [64]));
    expect(maxRelError(await ctx.read(instance), groupNormF64(x, [2, 64, 63], 64, 1e-5, gamma, beta))).toBeLessThan(2e-3);
    const layered = layerNorm(ctx, half(x, [126, 64]), { gamma: half(gamma, [64]), beta: half(beta, [64]) });
    expect(maxRelError(await ctx.read(layered), layerNormF64(x, [126, 64], 1, 1e-5, gamma, beta))).toBeLessThan(2e-3);
  });
});
