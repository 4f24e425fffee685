import { describe, expect, test } from 'vitest';
import { backward, type TapeRecord } from '../../src/autograd/backward.ts';
import { FUSED_ATTENTION_OP, fusedAttentionForward, matchAttention } from '../../src/autograd/ops/attention.ts';
import type { GraphNode } from '../../src/autograd/ops/op.ts';
import { attentionBackward, attentionForward } from '../../src/gpu/kernels/attention.ts';
import { binary } from '../../src/gpu/kernels/binary.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { softmax } from '../../src/gpu/kernels/softmax.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError, randn, roundToFloat32 } from '../support/reference.ts';
import { attentionF64 } from './reference-ops.ts';

const ctx = await testContext();

const n = (opType: string, inputs: string[], outputs: string[], attributes: Record<string, unknown> = {}): GraphNode => ({ opType, name: outputs[0], inputs, outputs, attributes });

/** The forge's exported subgraph (layers.ts `attention`) with its constants. */
function exportedNodes(): { nodes: GraphNode[]; constants: Map<string, number[]> } {
  return {
    nodes: [
      n('Mul', ['q', 'root_scale'], ['q_scaled']),
      n('Mul', ['k_t', 'root_scale'], ['k_scaled']),
      n('MatMul', ['q_scaled', 'k_scaled'], ['scores']),
      n('Softmax', ['scores'], ['weights'], { axis: -1 }),
      n('MatMul', ['weights', 'v'], ['mixed']),
    ],
    constants: new Map([['root_scale', [40 ** -0.25]]]),
  };
}

/** Runs the unfused graph with the ordinary kernels, recording a tape. */
function unfusedTape(q: GpuTensor, kT: GpuTensor, v: GpuTensor, rootScale: number): { tape: TapeRecord[]; out: GpuTensor } {
  const { nodes } = exportedNodes();
  const c = ctx.upload([rootScale], [1]);
  const qs = binary(ctx, 'mul', q, c);
  const ks = binary(ctx, 'mul', kT, c);
  const scores = matmul(ctx, qs, ks);
  const weights = softmax(ctx, scores, { axis: -1 });
  const out = matmul(ctx, weights, v);
  const tape: TapeRecord[] = [
    { node: nodes[0], inputs: [q, c], outputs: [qs] },
    { node: nodes[1], inputs: [kT, c], outputs: [ks] },
    { node: nodes[2], inputs: [qs, ks], outputs: [scores] },
    { node: nodes[3], inputs: [scores], outputs: [weights] },
    { node: nodes[4], inputs: [weights, v], outputs: [out] },
  ];
  return { tape, out };
}

describe('fused attention', () => {
  const [heads, nq, nk, d] = [2, 65, 77, 40];
  const rootScale = d ** -0.25;
  const qData = roundToFloat32(randn(heads * nq * d, 1));
  const kData = roundToFloat32(randn(heads * d * nk, 2));
  const vData = roundToFloat32(randn(heads * nk * d, 3));
  const dOut = roundToFloat32(randn(heads * nq * d, 4));

  test('forward (65 queries, 77 keys, head dim 40) matches float64 and the unfused kernels', async () => {
    const [q, kT, v] = [ctx.upload(qData, [1, heads, nq, d]), ctx.upload(kData, [1, heads, d, nk]), ctx.upload(vData, [1, heads, nk, d])];
    const fused = attentionForward(ctx, { q, k: kT, v, scale: rootScale ** 2, keysTransposed: true });
    const want = attentionF64(qData, kData, vData, heads, nq, nk, d, rootScale ** 2, true);
    const got = await ctx.read(fused.out);
    // f32 dot products of 40 terms and sums of 77 weights: ~1e-6 relative; 1e-5 bound.
    expect(maxRelError(got, want)).toBeLessThan(1e-5);
    const { out } = unfusedTape(q, kT, v, rootScale);
    expect(maxRelError(got, await ctx.read(out))).toBeLessThan(1e-5);
  });

  test('backward (dQ, dKᵀ, dV) matches the unfused path through the VJP rules and the backward sweep', async () => {
    const [q, kT, v] = [ctx.upload(qData, [1, heads, nq, d]), ctx.upload(kData, [1, heads, d, nk]), ctx.upload(vData, [1, heads, nk, d])];
    const seed = ctx.upload(dOut, [1, heads, nq, d]);
    const fused = attentionForward(ctx, { q, k: kT, v, scale: rootScale ** 2, keysTransposed: true });
    const { dq, dk, dv } = attentionBackward(ctx, { q, k: kT, v, scale: rootScale ** 2, keysTransposed: true }, fused, seed);
    const { tape } = unfusedTape(q, kT, v, rootScale);
    const { grads } = backward(ctx, tape, { seeds: new Map([['mixed', seed]]), wrt: ['q', 'k_t', 'v'], releaseActivations: true });
    for (const [name, fusedGrad] of [['q', dq], ['k_t', dk], ['v', dv]] as const) {
      const reference = await ctx.read(grads.get(name)!);
      // Both paths are f32 with different summation orders: agreement to ~1e-6 of the scale.
      expect(maxRelError(await ctx.read(fusedGrad), reference), name).toBeLessThan(2e-5);
    }
  });

  test('forward at 1024 x 1024 (one head, dim 40) never builds the score matrix and matches float64 on sampled rows', async () => {
    const [len, dim] = [1024, 40];
    const qd = roundToFloat32(randn(len * dim, 5));
    const kd = roundToFloat32(randn(dim * len, 6));
    const vd = roundToFloat32(randn(len * dim, 7));
    const q = ctx.upload(qd, [1, 1, len, dim]);
    const kT = ctx.upload(kd, [1, 1, dim, len]);
    const v = ctx.upload(vd, [1, 1, len, dim]);
    ctx.pool.resetPeak();
    const before = ctx.pool.snapshot().inUseBytes;
    const { out } = attentionForward(ctx, { q, k: kT, v, scale: dim ** -0.5, keysTransposed: true });
    await ctx.sync();
    // Output + log-sum-exp + uniforms only: far below one [1024, 1024] f32 score matrix (4 MiB).
    expect(ctx.pool.snapshot().peakInUseBytes - before).toBeLessThan(len * dim * 4 + len * 4 + 65536);
    const got = await ctx.read(out);
    const rows = [0, 1, 511, 1000, 1023];
    const sub = (data: Float64Array, r: number): Float64Array => data.slice(r * dim, (r + 1) * dim);
    for (const r of rows) {
      const want = attentionF64(sub(qd, r), kd, vd, 1, 1, len, dim, dim ** -0.5, true);
      expect(maxRelError(got.slice(r * dim, (r + 1) * dim), want), `row ${r}`).toBeLessThan(1e-5);
    }
  });
});

describe('matchAttention', () => {
  test('finds the forge pattern and produces a LetheAttention node with scale c_q c_k', () => {
    const { nodes, constants } = exportedNodes();
    const matches = matchAttention(nodes, (name) => constants.get(name));
    expect(matches).toHaveLength(1);
    const [match] = matches;
    expect(match.replaced.map((node) => node.opType)).toEqual(['Mul', 'Mul', 'MatMul', 'Softmax', 'MatMul']);
    expect(match.fused.opType).toBe(FUSED_ATTENTION_OP);
    expect(match.fused.inputs).toEqual(['q', 'k_t', 'v']);
    expect(match.fused.outputs).toEqual(['mixed']);
    expect(match.fused.attributes.scale).toBeCloseTo(40 ** -0.5, 12);
  });

  test('refuses when an intermediate has another consumer, is a graph output, or the scale is not constant', () => {
    const { nodes, constants } = exportedNodes();
    expect(matchAttention([...nodes, n('Identity', ['weights'], ['peek'])], (name) => constants.get(name))).toHaveLength(0);
    expect(matchAttention(nodes, (name) => constants.get(name), new Set(['scores']))).toHaveLength(0);
    expect(matchAttention(nodes, () => undefined)).toHaveLength(0);
    const otherAxis = nodes.map((node) => (node.opType === 'Softmax' ? { ...node, attributes: { axis: 2 } } : node));
    expect(matchAttention(otherAxis, (name) => constants.get(name))).toHaveLength(0);
  });

  test('the fused ForwardFn runs a matched node', async () => {
    const { nodes, constants } = exportedNodes();
    const [match] = matchAttention(nodes, (name) => constants.get(name));
    const [q, kT, v] = [ctx.upload(randn(3 * 4, 8), [1, 1, 3, 4]), ctx.upload(randn(4 * 5, 9), [1, 1, 4, 5]), ctx.upload(randn(5 * 4, 10), [1, 1, 5, 4])];
    const { outputs, saved } = fusedAttentionForward(ctx, [q, kT, v], match.fused);
    expect(outputs[0].shape).toEqual([1, 1, 3, 4]);
    expect(saved[0].size).toBe(3);
    const want = attentionF64(await ctx.read(q), await ctx.read(kT), await ctx.read(v), 1, 3, 5, 4, 40 ** -0.5, true);
    expect(maxRelError(await ctx.read(outputs[0]), want)).toBeLessThan(1e-5);
  });
});
