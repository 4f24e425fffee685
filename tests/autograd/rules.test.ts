import { describe, expect, test } from 'vitest';
import { testContext } from '../support/gpu.ts';
import { broadcastMapF64, erfF64, groupNormF64, layerNormF64, matmulF64, randn, reduceF64, softmaxF64, uniformArray } from '../support/reference.ts';
import { checkVjp, type Operand, type Tensor64, type VjpCase } from './vjp-check.ts';
import { attentionF64, concatF64, conv2dF64, resizeNearestF64, size, sliceF64, transposeF64, type ConvAttributes } from './reference-ops.ts';
import { attentionForward } from '../../src/gpu/kernels/attention.ts';

const ctx = await testContext();

/*
 * Tolerance. The rules compute in f32 (unit roundoff 6e-8) with chains of at most ~10
 * operations and sums of at most a few hundred terms on these shapes, so their error relative
 * to the gradient's scale stays below ~1e-5. Central differences in float64 with
 * h = 1e-4 max(1, |x|) are off by O(h²) ~ 1e-8 relative for these smooth functions (rounding
 * adds ~1e-12). 1e-4 leaves a 10x margin yet catches any wrong term (those are O(1)).
 */
const TOLERANCE = 1e-4;

const rnd = (shape: number[], seed: number, grad = true, scale = 1): Operand => ({ data: randn(size(shape), seed, scale), shape, grad });
const t = (data: Float64Array, shape: number[]): Tensor64[] => [{ data, shape }];

function binaryCase(opType: string, f: (a: number, b: number) => number, a: Operand, b: Operand): VjpCase {
  return { node: { opType }, operands: [a, b], forward: ([x, y]) => { const r = broadcastMapF64([{ data: x, shape: a.shape }, { data: y, shape: b.shape }], f); return t(r.data, r.shape); } };
}

function unaryCase(opType: string, f: (x: number) => number, x: Operand): VjpCase {
  return { node: { opType, inputs: ['in0'] }, operands: [x], forward: ([v]) => t(v.map(f), x.shape) };
}

const positive = (shape: number[], seed: number): Operand => ({ data: uniformArray(size(shape), seed, 0.5, 2), shape, grad: true });

const CASES: Record<string, () => VjpCase> = {
  'Add broadcast [3,1,5]+[4,5]': () => binaryCase('Add', (a, b) => a + b, rnd([3, 1, 5], 1), rnd([4, 5], 2)),
  'Sub broadcast [2,3,5]-[3,1]': () => binaryCase('Sub', (a, b) => a - b, rnd([2, 3, 5], 3), rnd([3, 1], 4)),
  'Mul broadcast [2,3,5]*[5]': () => binaryCase('Mul', (a, b) => a * b, rnd([2, 3, 5], 5), rnd([5], 6)),
  'Mul by scalar [1]': () => binaryCase('Mul', (a, b) => a * b, rnd([3, 7], 7), rnd([1], 8)),
  'Div broadcast [3,5]/[3,1]': () => binaryCase('Div', (a, b) => a / b, rnd([3, 5], 9), positive([3, 1], 10)),
  'Pow x^2 (constant exponent)': () => binaryCase('Pow', (a, b) => a ** b, rnd([3, 5], 11), { data: [2], shape: [1] }),
  'Pow x^1.5 on positives': () => binaryCase('Pow', (a, b) => a ** b, positive([2, 7], 12), { data: [1.5], shape: [] }),
  Sqrt: () => unaryCase('Sqrt', Math.sqrt, positive([3, 5], 13)),
  Erf: () => unaryCase('Erf', erfF64, rnd([3, 7], 14)),
  Sigmoid: () => unaryCase('Sigmoid', (v) => 1 / (1 + Math.exp(-v)), rnd([3, 7], 15, true, 2)),
  Exp: () => unaryCase('Exp', Math.exp, rnd([3, 5], 16)),
  Sin: () => unaryCase('Sin', Math.sin, rnd([3, 5], 17, true, 2)),
  Cos: () => unaryCase('Cos', Math.cos, rnd([3, 5], 18, true, 2)),
  'Cast float->float': () => unaryCase('Cast', (v) => v, rnd([2, 5], 19)),
  'Softmax axis -1 [2,3,7]': () => ({ node: { opType: 'Softmax', inputs: ['in0'], attributes: { axis: -1 } }, operands: [rnd([2, 3, 7], 20, true, 2)], forward: ([x]) => t(softmaxF64(x, [2, 3, 7], 2), [2, 3, 7]) }),
  'Softmax axis 1 [2,5,3]': () => ({ node: { opType: 'Softmax', inputs: ['in0'], attributes: { axis: 1 } }, operands: [rnd([2, 5, 3], 21, true, 2)], forward: ([x]) => t(softmaxF64(x, [2, 5, 3], 1), [2, 5, 3]) }),
  'MatMul batched [2,3,5,7]@[2,3,7,4]': () => ({ node: { opType: 'MatMul' }, operands: [rnd([2, 3, 5, 7], 22), rnd([2, 3, 7, 4], 23)], forward: ([a, b]) => t(matmulF64(a, b, { batch: 6, m: 5, n: 4, k: 7 }), [2, 3, 5, 4]) }),
  'MatMul shared weight [2,5,7]@[7,3]': () => ({ node: { opType: 'MatMul' }, operands: [rnd([2, 5, 7], 24), rnd([7, 3], 25)], forward: ([a, b]) => t(matmulF64(a, b, { batch: 2, m: 5, n: 3, k: 7, batchB: 1 }), [2, 5, 3]) }),
  'MatMul broadcast A [5,7]@[3,7,2]': () => ({ node: { opType: 'MatMul' }, operands: [rnd([5, 7], 26), rnd([3, 7, 2], 27)], forward: ([a, b]) => t(matmulF64(a, b, { batch: 3, m: 5, n: 2, k: 7, batchA: 1 }), [3, 5, 2]) }),
  ...Object.fromEntries(
    [[0, 0], [0, 1], [1, 0], [1, 1]].map(([ta, tb]) => [
      `Gemm transA=${ta} transB=${tb} alpha/beta, bias [3]`,
      (): VjpCase => {
        const [m, k, n] = [5, 7, 3];
        return {
          node: { opType: 'Gemm', inputs: ['in0', 'in1', 'in2'], attributes: { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 } },
          operands: [rnd(ta ? [k, m] : [m, k], 28), rnd(tb ? [n, k] : [k, n], 29), rnd([n], 30)],
          forward: ([a, b, c]) => {
            const p = matmulF64(a, b, { batch: 1, m, n, k, transposeA: ta === 1, transposeB: tb === 1 });
            return t(p.map((v, i) => 0.7 * v + 1.3 * c[i % n]), [m, n]);
          },
        };
      },
    ]),
  ),
  'InstanceNormalization [2,3,11] affine': () => ({
    node: { opType: 'InstanceNormalization', inputs: ['in0', 'in1', 'in2'], attributes: { epsilon: 1e-5 } },
    operands: [rnd([2, 3, 11], 31, true, 2), rnd([3], 32), rnd([3], 33)],
    forward: ([x, s, b]) => t(groupNormF64(x, [2, 3, 11], 3, 1e-5, s, b), [2, 3, 11]),
  }),
  'LayerNormalization [3,5,7] axis -1': () => ({
    node: { opType: 'LayerNormalization', inputs: ['in0', 'in1', 'in2'], attributes: { axis: -1, epsilon: 1e-5 } },
    operands: [rnd([3, 5, 7], 34, true, 2), rnd([7], 35), rnd([7], 36)],
    forward: ([x, s, b]) => t(layerNormF64(x, [3, 5, 7], 2, 1e-5, s, b), [3, 5, 7]),
  }),
  'LayerNormalization [3,5,7] axis 1 (row of 35)': () => ({
    node: { opType: 'LayerNormalization', inputs: ['in0', 'in1', 'in2'], attributes: { axis: 1, epsilon: 1e-5 } },
    operands: [rnd([3, 5, 7], 37, true, 2), rnd([5, 7], 38), rnd([5, 7], 39)],
    forward: ([x, s, b]) => t(layerNormF64(x, [3, 5, 7], 1, 1e-5, s, b), [3, 5, 7]),
  }),
  'ReduceMean axes [-1] keepdims': () => ({ node: { opType: 'ReduceMean', inputs: ['in0'], attributes: { axes: [-1], keepdims: 1 } }, operands: [rnd([3, 5, 7], 40)], forward: ([x]) => t(reduceF64(x, [3, 5, 7], 2, 2, 'mean'), [3, 5, 1]) }),
  'ReduceMean axes [1] no keepdims': () => ({ node: { opType: 'ReduceMean', inputs: ['in0'], attributes: { axes: [1], keepdims: 0 } }, operands: [rnd([3, 5, 7], 41)], forward: ([x]) => t(reduceF64(x, [3, 5, 7], 1, 1, 'mean'), [3, 7]) }),
  'Concat axis 1 of three': () => ({
    node: { opType: 'Concat', inputs: ['in0', 'in1', 'in2'], attributes: { axis: 1 } },
    operands: [rnd([2, 3, 5], 42), rnd([2, 1, 5], 43, false), rnd([2, 4, 5], 44)],
    forward: ([a, b, c]) => t(concatF64([{ data: a, shape: [2, 3, 5] }, { data: b, shape: [2, 1, 5] }, { data: c, shape: [2, 4, 5] }], 1), [2, 8, 5]),
  }),
  'Slice steps 2 and -1 (folded attributes)': () => ({
    node: { opType: 'Slice', inputs: ['in0', '', '', '', ''], attributes: { axes: [1, 2], starts: [1, 6], ends: [7, 0], steps: [2, -1] } },
    operands: [rnd([2, 7, 9], 45), null, null, null, null],
    forward: ([x]) => t(sliceF64(x, [2, 7, 9], [1, 2], [1, 6], [2, -1], [2, 3, 6]), [2, 3, 6]),
  }),
  'Split axis 2 into 2+5 (both outputs)': () => ({
    node: { opType: 'Split', inputs: ['in0'], outputs: ['out0', 'out1'], attributes: { axis: 2, split: [2, 5] } },
    operands: [rnd([2, 3, 7], 46)],
    forward: ([x]) => [
      { data: sliceF64(x, [2, 3, 7], [2], [0], [1], [2, 3, 2]), shape: [2, 3, 2] },
      { data: sliceF64(x, [2, 3, 7], [2], [2], [1], [2, 3, 5]), shape: [2, 3, 5] },
    ],
  }),
  'Reshape [2,3,5] -> [6,5]': () => ({ node: { opType: 'Reshape', inputs: ['in0', ''] }, operands: [rnd([2, 3, 5], 47), null], forward: ([x]) => t(x.slice(), [6, 5]) }),
  'Unsqueeze': () => ({ node: { opType: 'Unsqueeze', inputs: ['in0', ''] }, operands: [rnd([3, 5], 48), null], forward: ([x]) => t(x.slice(), [3, 1, 5]) }),
  'Transpose perm [0,2,3,1]': () => ({ node: { opType: 'Transpose', inputs: ['in0'], attributes: { perm: [0, 2, 3, 1] } }, operands: [rnd([2, 3, 5, 4], 49)], forward: ([x]) => t(transposeF64(x, [2, 3, 5, 4], [0, 2, 3, 1]), [2, 5, 4, 3]) }),
  'Resize nearest x2 (asymmetric floor)': () => ({
    node: { opType: 'Resize', inputs: ['in0', '', '', ''], attributes: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
    operands: [rnd([2, 3, 5, 3], 50), null, null, null],
    forward: ([x]) => { const r = resizeNearestF64(x, [2, 3, 5, 3], [1, 1, 2, 2]); return t(r.data, r.shape); },
  }),
  'Resize nearest x3 on one axis (half_pixel)': () => ({
    node: { opType: 'Resize', inputs: ['in0', '', '', ''], attributes: { mode: 'nearest' } },
    operands: [rnd([1, 2, 3, 5], 51), null, null, null],
    forward: ([x]) => { const r = resizeNearestF64(x, [1, 2, 3, 5], [1, 1, 1, 3]); return t(r.data, r.shape); },
  }),
  'Where constant condition, broadcast b': () => {
    const cond = Array.from({ length: 15 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    return {
      node: { opType: 'Where', inputs: ['in0', 'in1', 'in2'] },
      operands: [{ data: cond, shape: [3, 5], int: true }, rnd([3, 5], 52), rnd([5], 53)],
      forward: ([c, a, b]) => { const r = broadcastMapF64([{ data: c, shape: [3, 5] }, { data: a, shape: [3, 5] }, { data: b, shape: [5] }], (cv, av, bv) => (cv ? av : bv)); return t(r.data, r.shape); },
    };
  },
  'Expand [3,1] -> [2,3,5]': () => ({
    node: { opType: 'Expand', inputs: ['in0', ''] },
    operands: [rnd([3, 1], 54), null],
    forward: ([x]) => { const r = broadcastMapF64([{ data: x, shape: [3, 1] }, { data: new Float64Array(30), shape: [2, 3, 5] }], (a) => a); return t(r.data, r.shape); },
  }),
  ...Object.fromEntries(
    ([
      ['3x3 pad 1', [1, 1], [1, 1, 1, 1], [1, 1], [2, 3, 5, 6], [4, 3, 3, 3]],
      ['3x3 stride 2 pad 1 (downsample)', [2, 2], [1, 1, 1, 1], [1, 1], [1, 3, 7, 5], [2, 3, 3, 3]],
      ['1x1', [1, 1], [0, 0, 0, 0], [1, 1], [2, 5, 3, 3], [3, 5, 1, 1]],
      ['2x3 dilation 2, asymmetric pads', [1, 2], [0, 1, 2, 0], [2, 2], [1, 2, 6, 7], [3, 2, 2, 3]],
    ] as [string, [number, number], [number, number, number, number], [number, number], number[], number[]][]).map(([label, strides, pads, dilations, xShape, wShape]) => [
      `Conv ${label}`,
      (): VjpCase => {
        const attrs: ConvAttributes = { strides, pads, dilations };
        return {
          node: { opType: 'Conv', inputs: ['in0', 'in1', 'in2'], attributes: { strides, pads, dilations, kernel_shape: wShape.slice(2), group: 1 } },
          operands: [rnd(xShape, 55), rnd(wShape, 56), rnd([wShape[0]], 57)],
          forward: ([x, w, b]) => { const r = conv2dF64(x, xShape, w, wShape, b, attrs); return t(r.data, r.shape); },
        };
      },
    ]),
  ),
  'LetheAttention (fused) [1,2,9,8] x 11 keys': () => {
    const [bh, nq, nk, d, scale] = [2, 9, 11, 8, 8 ** -0.5];
    return {
      node: { opType: 'LetheAttention', inputs: ['in0', 'in1', 'in2'], attributes: { scale } },
      operands: [rnd([1, 2, nq, d], 58), rnd([1, 2, d, nk], 59), rnd([1, 2, nk, d], 60)],
      forward: ([q, k, v]) => t(attentionF64(q, k, v, bh, nq, nk, d, scale, true), [1, 2, nq, d]),
      gpuOutputs: (c, [q, k, v]) => {
        const { out, logSumExp } = attentionForward(c, { q, k, v, scale, keysTransposed: true });
        saved = logSumExp;
        return [out];
      },
      saved: () => [saved!],
    };
  },
};
let saved: import('../../src/gpu/tensor.ts').GpuTensor | undefined;

describe('VJP rules against float64 finite differences', () => {
  test.each(Object.keys(CASES))('%s', async (name) => {
    const report = await checkVjp(ctx, CASES[name]());
    expect(report.errors.length).toBeGreaterThan(0);
    for (const [i, error] of report.errors.entries()) {
      expect(report.scales[i], `operand ${i} has a non-trivial gradient`).toBeGreaterThan(1e-3);
      expect(error, `operand ${i}`).toBeLessThan(TOLERANCE);
    }
  });

  test('a wrong rule would fail: Sin checked against cos forward differs', async () => {
    // The harness must be able to fail: Sin's rule against the derivative of a different function.
    const report = await checkVjp(ctx, unaryCase('Sin', (v) => Math.sin(1.1 * v), rnd([3, 5], 61, true, 2)));
    expect(report.errors[0]).toBeGreaterThan(1e-2);
  });
});
