import { describe, expect, test } from 'vitest';
import { backward, type TapeRecord } from '../../src/autograd/backward.ts';
import type { GraphNode } from '../../src/autograd/ops/op.ts';
import { binary } from '../../src/gpu/kernels/binary.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { unary } from '../../src/gpu/kernels/unary.ts';
import { testContext } from '../support/gpu.ts';
import { matmulF64, maxRelError, randn, roundToFloat32 } from '../support/reference.ts';

const ctx = await testContext();

const node = (opType: string, inputs: string[], output: string): GraphNode => ({ opType, name: output, inputs, outputs: [output], attributes: {} });

/**
 * h = x @ W;  a = sigmoid(h);  b = h * c;  y = a + b;  z = exp(c);  out = y * z
 * h feeds two nodes (gradients accumulate); z depends on no requested input (its Exp is skipped).
 */
const NODES = [node('MatMul', ['x', 'W'], 'h'), node('Sigmoid', ['h'], 'a'), node('Mul', ['h', 'c'], 'b'), node('Add', ['a', 'b'], 'y'), node('Exp', ['c'], 'z'), node('Mul', ['y', 'z'], 'out')];
const [m, k, n] = [3, 5, 4];

function forwardF64(x: Float64Array, w: Float64Array, c: Float64Array): Float64Array {
  const h = matmulF64(x, w, { batch: 1, m, n, k });
  return h.map((v, i) => (1 / (1 + Math.exp(-v)) + v * c[i % n]) * Math.exp(c[i % n]));
}

describe('backward sweep', () => {
  const xData = roundToFloat32(randn(m * k, 1));
  const wData = roundToFloat32(randn(k * n, 2, 0.5));
  const cData = roundToFloat32(randn(n, 3, 0.5));
  const gData = roundToFloat32(randn(m * n, 4));

  function record(): { tape: TapeRecord[]; tensors: Record<string, ReturnType<typeof ctx.upload>> } {
    const x = ctx.upload(xData, [m, k]);
    const W = ctx.upload(wData, [k, n]);
    const c = ctx.upload(cData, [n]);
    const h = matmul(ctx, x, W);
    const a = unary(ctx, 'sigmoid', h);
    const b = binary(ctx, 'mul', h, c);
    const y = binary(ctx, 'add', a, b);
    const z = unary(ctx, 'exp', c);
    const out = binary(ctx, 'mul', y, z);
    const t = { x, W, c, h, a, b, y, z, out };
    const tape: TapeRecord[] = NODES.map((nd) => ({ node: nd, inputs: nd.inputs.map((name) => t[name as keyof typeof t]), outputs: [t[nd.outputs[0] as keyof typeof t]] }));
    return { tape, tensors: t };
  }

  test('gradients of requested inputs match finite differences; unrequested branches are skipped', async () => {
    const { tape } = record();
    const seed = ctx.upload(gData, [m, n]);
    const { grads, stats } = backward(ctx, tape, { seeds: new Map([['out', seed]]), wrt: ['W', 'x'] });
    expect(stats.ranNodes).toBe(5);
    expect(stats.skippedNodes).toBe(1);
    expect([...grads.keys()].sort()).toEqual(['W', 'x']);
    const loss = (x: Float64Array, w: Float64Array): number => forwardF64(x, w, cData).reduce((s, v, i) => s + v * gData[i], 0);
    const fd = (values: Float64Array, f: (v: Float64Array) => number): Float64Array =>
      values.map((value, j) => {
        const h = 1e-4;
        const plus = values.slice();
        const minus = values.slice();
        plus[j] = value + h;
        minus[j] = value - h;
        return (f(plus) - f(minus)) / (2 * h);
      });
    expect(maxRelError(await ctx.read(grads.get('W')!), fd(wData, (w) => loss(xData, w)))).toBeLessThan(1e-4);
    expect(maxRelError(await ctx.read(grads.get('x')!), fd(xData, (x) => loss(x, wData)))).toBeLessThan(1e-4);
    expect(seed.isReleased).toBe(false);
  });

  test('releases activations once no later VJP needs them, and leaks nothing', async () => {
    await ctx.sync();
    const baseline = ctx.pool.snapshot().inUseBytes;
    const { tape, tensors } = record();
    const seed = ctx.upload(gData, [m, n]);
    const { grads } = backward(ctx, tape, { seeds: new Map([['out', seed]]), wrt: ['W'], releaseActivations: true, keep: new Set([tensors.out]) });
    // Every activation except the kept output is gone; graph inputs are the caller's.
    for (const name of ['h', 'a', 'b', 'y', 'z'] as const) expect(tensors[name].isReleased, name).toBe(true);
    for (const name of ['x', 'W', 'c', 'out'] as const) expect(tensors[name].isReleased, name).toBe(false);
    for (const t of [tensors.x, tensors.W, tensors.c, tensors.out, seed, grads.get('W')!]) t.release();
    await ctx.sync();
    expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
  });

  test('views on the tape: storage whose owner is off the tape is freed; a view of a given weight is not', async () => {
    // As the executor records MatMul (a reshaped product) and weights reshaped at load.
    await ctx.sync();
    const baseline = ctx.pool.snapshot().inUseBytes;
    const weightOwner = ctx.upload(wData, [k * n]);
    const x = ctx.upload(xData, [m, k]);
    const W = weightOwner.reshape([k, n]);
    const c = ctx.upload(cData, [n]);
    const productOwner = matmul(ctx, x, W);
    const h = productOwner.reshape([m, n]);
    const a = unary(ctx, 'sigmoid', h);
    const b = binary(ctx, 'mul', h, c);
    const y = binary(ctx, 'add', a, b);
    const z = unary(ctx, 'exp', c);
    const out = binary(ctx, 'mul', y, z);
    const t = { x, W, c, h, a, b, y, z, out };
    const tape: TapeRecord[] = NODES.map((nd) => ({ node: nd, inputs: nd.inputs.map((name) => t[name as keyof typeof t]), outputs: [t[nd.outputs[0] as keyof typeof t]] }));
    const seed = ctx.upload(gData, [m, n]);
    const { grads } = backward(ctx, tape, { seeds: new Map([['out', seed]]), wrt: ['W'], releaseActivations: true, keep: new Set([out]) });
    expect(productOwner.isReleased).toBe(true);
    expect(weightOwner.isReleased).toBe(false);
    const loss = (w: Float64Array): number => forwardF64(xData, w, cData).reduce((sum, v, i) => sum + v * gData[i], 0);
    const fd = wData.map((value, j) => {
      const plus = wData.slice();
      const minus = wData.slice();
      plus[j] = value + 1e-4;
      minus[j] = value - 1e-4;
      return (loss(plus) - loss(minus)) / 2e-4;
    });
    expect(maxRelError(await ctx.read(grads.get('W')!), fd)).toBeLessThan(1e-4);
    for (const tensor of [weightOwner, x, c, out, seed, grads.get('W')!]) tensor.release();
    await ctx.sync();
    expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
  });

  test('a missing rule names the op and node', () => {
    const x = ctx.upload([1, 2], [2]);
    const y = unary(ctx, 'tanh', x);
    expect(() => backward(ctx, [{ node: node('Tanh', ['x'], 'y'), inputs: [x], outputs: [y] }], { seeds: new Map([['y', y]]), wrt: ['x'] })).toThrow(/no VJP rule for Tanh \(node y\)/);
  });
});
