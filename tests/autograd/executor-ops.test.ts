import { describe, expect, test } from 'vitest';
import { loadPieceGraph } from '../../src/autograd/executor.ts';
import { TensorDataType } from '../../src/formats/onnx/types.ts';
import { tensorFromArray } from '../../src/formats/onnx/tensor.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError } from '../support/reference.ts';
import { floats, inputData, int64s, oneNodeModel, runExecutor, runOrt, type NodeCase } from './executor-fixtures.ts';

const ctx = await testContext();
const INT64_MAX = 9223372036854775807;

const x = (dims: number[], name = 'x') => ({ name, dims });
const positive = (dims: number[]) => ({ name: 'x', dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => 0.05 + ((i * 7919) % 97) / 13) });

/** Each case: one node, odd shapes; runtime inputs random, shape operands as initializers. */
const CASES: [string, NodeCase][] = [
  ['Add broadcast', { op: 'Add', inputs: [x([2, 3, 1, 5], 'a'), x([4, 5], 'b')] }],
  ['Sub', { op: 'Sub', inputs: [x([3, 7], 'a'), x([7], 'b')] }],
  ['Mul by constant', { op: 'Mul', inputs: [x([5, 3, 2])], constants: [floats('s', [0.125], [])] }],
  ['Div', { op: 'Div', inputs: [x([4, 9], 'a'), positive([4, 9])] }],
  ['Pow 2', { op: 'Pow', inputs: [x([3, 11])], constants: [floats('e', [2], [])] }],
  ['Pow 0.5 of positive', { op: 'Pow', inputs: [positive([3, 11])], constants: [floats('e', [0.5], [])] }],
  ['Sqrt', { op: 'Sqrt', inputs: [positive([5, 13])] }],
  ['Erf', { op: 'Erf', inputs: [x([7, 9])] }],
  ['Sigmoid', { op: 'Sigmoid', inputs: [x([7, 9])] }],
  ['Sin', { op: 'Sin', inputs: [x([3, 17])] }],
  ['Cos', { op: 'Cos', inputs: [x([3, 17])] }],
  ['Exp', { op: 'Exp', inputs: [x([3, 17])] }],
  ['Tanh', { op: 'Tanh', inputs: [x([3, 17])] }],
  ['Softmax last axis', { op: 'Softmax', inputs: [x([3, 7, 33])], attributes: { axis: -1 } }],
  ['Softmax axis 1', { op: 'Softmax', inputs: [x([3, 7, 5])], attributes: { axis: 1 } }],
  ['Softmax opset 11 (flattened)', { op: 'Softmax', inputs: [x([3, 4, 5])], attributes: { axis: 1 }, opset: 11 }],
  ['InstanceNormalization', { op: 'InstanceNormalization', inputs: [x([2, 5, 7, 3]), x([5], 'scale'), x([5], 'bias')], attributes: { epsilon: { float: 1e-5 } } }],
  ['LayerNormalization', { op: 'LayerNormalization', inputs: [x([3, 5, 19]), x([19], 'g'), x([19], 'b')], attributes: { axis: -1, epsilon: { float: 1e-5 } } }],
  ['ReduceMean last axis', { op: 'ReduceMean', inputs: [x([3, 5, 19])], attributes: { axes: [-1], keepdims: 1 }, opset: 14 }],
  ['ReduceMean opset 18 axes input', { op: 'ReduceMean', inputs: [x([3, 5, 19])], constants: [int64s('axes', [1, 2])], attributes: { keepdims: 0 }, opset: 18 }],
  ['MatMul batch x matrix', { op: 'MatMul', inputs: [x([2, 3, 17, 9], 'a'), x([9, 13], 'b')] }],
  ['MatMul batched', { op: 'MatMul', inputs: [x([2, 17, 9], 'a'), x([2, 9, 5], 'b')] }],
  ['MatMul vector', { op: 'MatMul', inputs: [x([9], 'a'), x([3, 9, 5], 'b')] }],
  ['Gemm transB alpha beta', { op: 'Gemm', inputs: [x([5, 7], 'a'), x([11, 7], 'b'), x([11], 'c')], attributes: { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } } }],
  ['Gemm transA', { op: 'Gemm', inputs: [x([7, 5], 'a'), x([7, 3], 'b')], attributes: { transA: 1 } }],
  ['Conv 3x3 stride 2 pad 1', { op: 'Conv', inputs: [x([2, 5, 9, 11]), x([7, 5, 3, 3], 'w'), x([7], 'bias')], attributes: { strides: [2, 2], pads: [1, 1, 1, 1], kernel_shape: [3, 3] } }],
  ['Conv 3x3 pad 1', { op: 'Conv', inputs: [x([1, 6, 13, 7]), x([67, 6, 3, 3], 'w'), x([67], 'bias')], attributes: { pads: [1, 1, 1, 1] } }],
  ['Conv 1x1 no bias', { op: 'Conv', inputs: [x([2, 19, 5, 3]), x([4, 19, 1, 1], 'w')] }],
  ['Conv dilation 2 groups 3 asymmetric pads', { op: 'Conv', inputs: [x([2, 6, 10, 9]), x([9, 2, 3, 2], 'w'), x([9], 'bias')], attributes: { dilations: [2, 2], group: 3, pads: [2, 0, 1, 3] } }],
  ['Conv SAME_UPPER stride 2', { op: 'Conv', inputs: [x([1, 3, 8, 7]), x([4, 3, 3, 3], 'w')], attributes: { strides: [2, 2], auto_pad: 'SAME_UPPER' } }],
  ['Concat axis 1', { op: 'Concat', inputs: [x([2, 3, 4], 'a'), x([2, 1, 4], 'b'), x([2, 5, 4], 'c')], attributes: { axis: 1 } }],
  ['Concat axis -1', { op: 'Concat', inputs: [x([3, 2], 'a'), x([3, 7], 'b')], attributes: { axis: -1 } }],
  ['Slice steps and negative indices', { op: 'Slice', inputs: [x([5, 9, 7])], constants: [int64s('starts', [-1, 1, -2]), int64s('ends', [-INT64_MAX, 8, 0]), int64s('axes', [0, 1, 2]), int64s('steps', [-2, 3, -1])] }],
  ['Slice to the end', { op: 'Slice', inputs: [x([4, 10])], constants: [int64s('starts', [3]), int64s('ends', [INT64_MAX]), int64s('axes', [-1])] }],
  ['Split uneven', { op: 'Split', inputs: [x([2, 9, 3])], constants: [int64s('split', [2, 3, 4])], attributes: { axis: 1 }, outputs: ['p', 'q', 'r'] }],
  ['Split even by outputs', { op: 'Split', inputs: [x([6, 5])], attributes: { axis: 0 }, outputs: ['p', 'q', 'r'] }],
  ['Reshape 0 and -1', { op: 'Reshape', inputs: [x([2, 3, 20])], constants: [int64s('shape', [0, -1, 5])] }],
  ['Transpose', { op: 'Transpose', inputs: [x([2, 3, 5, 7])], attributes: { perm: [0, 2, 3, 1] } }],
  ['Resize nearest x2 (scales)', { op: 'Resize', inputs: [x([2, 3, 5, 7])], constants: [floats('scales', [1, 1, 2, 2], [4])], order: ['x', '', 'scales'], attributes: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } }],
  ['Resize nearest x2 (sizes, half_pixel)', { op: 'Resize', inputs: [x([1, 2, 3, 4])], constants: [int64s('sizes', [1, 2, 6, 8])], order: ['x', '', '', 'sizes'], attributes: { mode: 'nearest' } }],
  ['Cast float to float', { op: 'Cast', inputs: [x([3, 4])], attributes: { to: TensorDataType.FLOAT } }],
  ['Where with constant condition', { op: 'Where', inputs: [x([3, 5], 'a'), x([5], 'b')], constants: [tensorFromArray('c', [3, 1], Uint8Array.from([1, 0, 1]), TensorDataType.BOOL)], order: ['c', 'a', 'b'] }],
  ['Expand', { op: 'Expand', inputs: [x([3, 1, 5])], constants: [int64s('shape', [2, 1, 4, 5])] }],
  ['Gather constant indices', { op: 'Gather', inputs: [x([3, 6, 4])], constants: [int64s('i', [2, 0, -1])], attributes: { axis: 1 } }],
  ['Gather scalar index', { op: 'Gather', inputs: [x([5, 4])], constants: [int64s('i', [3], [])], attributes: { axis: 0 } }],
  ['Flatten', { op: 'Flatten', inputs: [x([2, 3, 4, 5])], attributes: { axis: 2 } }],
  ['Unsqueeze', { op: 'Unsqueeze', inputs: [x([3, 4])], constants: [int64s('axes', [0, -1])] }],
  ['Squeeze', { op: 'Squeeze', inputs: [x([3, 1, 4, 1])], constants: [int64s('axes', [1])] }],
];

describe('one-node graphs: the executor matches onnxruntime-node', () => {
  test.each(CASES)('%s', async (_name, c) => {
    const model = oneNodeModel(c);
    const data = inputData(c, 5);
    const feeds = new Map(c.inputs.map((i) => [i.name, { data: data.get(i.name)!, dims: i.dims }]));
    const want = await runOrt(model, feeds);
    const got = await runExecutor(ctx, model, feeds);
    for (const name of c.outputs ?? ['y']) {
      expect(got[name].dims).toEqual(want[name].dims);
      expect(maxRelError(got[name].data, want[name].data)).toBeLessThan(1e-4);
    }
  });
});

describe('load-time errors', () => {
  test('an unsupported op is named with its node at load', () => {
    const model = oneNodeModel({ op: 'Celu', inputs: [x([3])] });
    expect(() => loadPieceGraph(ctx, model, { x: [3] }, 'celu.onnx')).toThrow(/celu\.onnx: unsupported op Celu "\/test\/Celu"/);
  });

  test('a shape operand that depends on runtime values is refused at load', () => {
    const model = oneNodeModel({ op: 'Reshape', inputs: [x([2, 3]), x([2], 's')] });
    expect(() => loadPieceGraph(ctx, model, { x: [2, 3], s: [2] }, 'r.onnx')).toThrow(/Reshape "\/test\/Reshape": input 1 \("s"\) must be known at load/);
  });

  test('missing or mismatching input shapes are refused', () => {
    const model = oneNodeModel({ op: 'Relu', inputs: [x([2, 3])] });
    expect(() => loadPieceGraph(ctx, model, {}, 'm.onnx')).toThrow(/no shape given for input "x"/);
    expect(() => loadPieceGraph(ctx, model, { x: [2, 4] }, 'm.onnx')).toThrow(/input "x" axis 1 is 3, given shape \[2,4\]/);
  });
});
