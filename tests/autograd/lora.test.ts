import { describe, expect, test } from 'vitest';
import { backward, type TapeRecord } from '../../src/autograd/backward.ts';
import { loraBackward, loraProject } from '../../src/autograd/lora.ts';
import { insertLoraNodes, LORA_OP, moduleOfNode, ParameterSet } from '../../src/autograd/parameters.ts';
import { loraNodeForward } from '../../src/autograd/ops/lora.ts';
import type { GraphNode } from '../../src/autograd/ops/op.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { softmax } from '../../src/gpu/kernels/softmax.ts';
import { testContext } from '../support/gpu.ts';
import { matmulF64, maxRelError, randn, roundToFloat32, softmaxF64 } from '../support/reference.ts';
import { checkVjp } from './vjp-check.ts';

const ctx = await testContext();

/** K = E Wᵀ + (alpha / r) E Aᵀ Bᵀ in float64; E [rows, in], W [out, in], A [r, in], B [out, r]. */
function loraProjectF64(e: Float64Array, w: Float64Array, a: Float64Array, b: Float64Array, rows: number, inF: number, outF: number, r: number, alpha: number): Float64Array {
  const base = matmulF64(e, w, { batch: 1, m: rows, n: outF, k: inF, transposeB: true });
  const hidden = matmulF64(e, a, { batch: 1, m: rows, n: r, k: inF, transposeB: true });
  const delta = matmulF64(hidden, b, { batch: 1, m: rows, n: outF, k: r, transposeB: true });
  return base.map((v, i) => v + (alpha / r) * delta[i]);
}

/** Central differences of L = <f(x), g> with respect to every element of x. */
function finiteDifferences(x: Float64Array, loss: (x: Float64Array) => number): Float64Array {
  return x.map((value, j) => {
    const h = 1e-4 * Math.max(1, Math.abs(value));
    const plus = x.slice();
    const minus = x.slice();
    plus[j] += h;
    minus[j] -= h;
    return (loss(plus) - loss(minus)) / (2 * h);
  });
}

const dotF64 = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };

describe('LoRA on the K/V projection (outside the graph)', () => {
  const [batch, tokens, inF, outF, r, alpha] = [2, 7, 12, 10, 3, 6];
  const rows = batch * tokens;
  const e = roundToFloat32(randn(rows * inF, 1));
  const w = roundToFloat32(randn(outF * inF, 2, 0.3));
  const a = roundToFloat32(randn(r * inF, 3, 0.3));
  const b = roundToFloat32(randn(outF * r, 4, 0.3));
  const g = roundToFloat32(randn(rows * outF, 5));

  test('forward K_l = E W_kᵀ + (alpha/r) E Aᵀ Bᵀ matches float64', async () => {
    const k = loraProject(ctx, ctx.upload(e, [batch, tokens, inF]), ctx.upload(w, [outF, inF]), { a: ctx.upload(a, [r, inF]), b: ctx.upload(b, [outF, r]), alpha });
    expect(k.shape).toEqual([batch, tokens, outF]);
    expect(maxRelError(await ctx.read(k), loraProjectF64(e, w, a, b, rows, inF, outF, r, alpha))).toBeLessThan(1e-6);
  });

  test('dA, dB (and dE through the LoRA path) from dL/dK_l match finite differences', async () => {
    const lora = { a: ctx.upload(a, [r, inF]), b: ctx.upload(b, [outF, r]), alpha };
    const { da, db, dx } = loraBackward(ctx, ctx.upload(e, [batch, tokens, inF]), ctx.upload(g, [batch, tokens, outF]), lora, { inputGradient: true });
    const loss = (ee: Float64Array, aa: Float64Array, bb: Float64Array): number => dotF64(loraProjectF64(ee, new Float64Array(w.length), aa, bb, rows, inF, outF, r, alpha), g);
    // Sums of <= 14 * 12 f32 products per element: error ~1e-6 of the scale; FD error ~1e-9.
    expect(maxRelError(await ctx.read(da), finiteDifferences(a, (x) => loss(e, x, b)))).toBeLessThan(1e-4);
    expect(maxRelError(await ctx.read(db), finiteDifferences(b, (x) => loss(e, a, x)))).toBeLessThan(1e-4);
    expect(maxRelError(await ctx.read(dx!), finiteDifferences(e, (x) => loss(x, a, b)))).toBeLessThan(1e-4);
  });
});

describe('LoRA inside a piece graph (parameter hook)', () => {
  test('LetheLora VJP (dx, dy, dA, dB) matches finite differences', async () => {
    const [rows, inF, outF, r, alpha] = [5, 6, 7, 2, 4];
    const report = await checkVjp(ctx, {
      node: { opType: LORA_OP, inputs: ['x', 'y', 'A', 'B'], attributes: { alpha } },
      operands: [
        { data: randn(rows * inF, 10), shape: [1, rows, inF], grad: true },
        { data: randn(rows * outF, 11), shape: [1, rows, outF], grad: true },
        { data: randn(r * inF, 12), shape: [r, inF], grad: true },
        { data: randn(outF * r, 13), shape: [outF, r], grad: true },
      ],
      forward: ([x, y, aa, bb]) => {
        const delta = loraProjectF64(x, new Float64Array(outF * inF), aa, bb, rows, inF, outF, r, alpha);
        return [{ data: delta.map((d, i) => d + y[i]), shape: [1, rows, outF] }];
      },
    });
    expect(report.errors).toHaveLength(4);
    for (const error of report.errors) expect(error).toBeLessThan(1e-4);
  });

  test('insertLoraNodes adapts the named MatMuls and the sweep differentiates the factors', async () => {
    const nodes: GraphNode[] = [
      { opType: 'MatMul', name: '/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul', inputs: ['hidden', 'w_q'], outputs: ['q'], attributes: {} },
      { opType: 'Softmax', name: '/softmax', inputs: ['q'], outputs: ['probs'], attributes: { axis: -1 } },
    ];
    const module = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
    expect(moduleOfNode(nodes[0].name)).toBe(module);
    const [rows, inF, outF, r, alpha] = [4, 6, 5, 2, 3];
    const params = new ParameterSet(ctx);
    const factors = params.addLora(module, inF, outF, r, alpha, 7);
    // PEFT starts with B = 0; give B values so the gradient of A is not trivially zero.
    const bValues = roundToFloat32(randn(outF * r, 8, 0.5));
    ctx.writeTensor(factors.b, Float32Array.from(bValues));
    const inserted = insertLoraNodes(nodes, [...params.specs(), { module: 'up_blocks.1.other', alpha: 1 }]);
    expect(inserted.nodes.map((n) => n.opType)).toEqual(['MatMul', LORA_OP, 'Softmax']);
    expect(inserted.parameterNames).toEqual([`${module}.lora_A`, `${module}.lora_B`]);
    expect(inserted.unmatched).toEqual(['up_blocks.1.other']);
    expect(inserted.nodes[1].inputs).toEqual(['hidden', 'q/base', `${module}.lora_A`, `${module}.lora_B`]);

    // Run the rewritten graph by hand, recording the tape as the executor would.
    const hiddenData = roundToFloat32(randn(rows * inF, 9));
    const wData = roundToFloat32(randn(inF * outF, 10, 0.4));
    const aData = Float64Array.from(await ctx.read(factors.a));
    const hidden = ctx.upload(hiddenData, [1, rows, inF]);
    const wq = ctx.upload(wData, [inF, outF]);
    const base = matmul(ctx, hidden, wq);
    const tensors = params.tensors();
    const [a, b] = inserted.parameterNames.map((name) => tensors.get(name)!);
    const { outputs: [q] } = loraNodeForward(ctx, [hidden, base, a, b], inserted.nodes[1]);
    const probs = softmax(ctx, q);
    const tape: TapeRecord[] = [
      { node: inserted.nodes[0], inputs: [hidden, wq], outputs: [base] },
      { node: inserted.nodes[1], inputs: [hidden, base, a, b], outputs: [q] },
      { node: inserted.nodes[2], inputs: [q], outputs: [probs] },
    ];
    const gData = roundToFloat32(randn(rows * outF, 11));
    const { grads, stats } = backward(ctx, tape, { seeds: new Map([['probs', ctx.upload(gData, [1, rows, outF])]]), wrt: inserted.parameterNames, releaseActivations: true });
    expect(stats.ranNodes).toBe(2); // the base MatMul needs no VJP: W and hidden are not requested

    const loss = (aa: Float64Array, bb: Float64Array): number => {
      const projected = matmulF64(hiddenData, wData, { batch: 1, m: rows, n: outF, k: inF });
      const delta = loraProjectF64(hiddenData, new Float64Array(outF * inF), aa, bb, rows, inF, outF, r, alpha);
      return dotF64(softmaxF64(projected.map((v, i) => v + delta[i]), [rows, outF], 1), gData);
    };
    expect(maxRelError(await ctx.read(grads.get(`${module}.lora_A`)!), finiteDifferences(aData, (x) => loss(x, bValues)))).toBeLessThan(1e-4);
    expect(maxRelError(await ctx.read(grads.get(`${module}.lora_B`)!), finiteDifferences(bValues, (x) => loss(aData, x)))).toBeLessThan(1e-4);
    params.dispose();
  });
});
