import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { encodeModel } from '../../src/formats/onnx/codec.ts';
import { inferElemTypes } from '../../src/formats/onnx/elem-types.ts';
import { extractSubgraph, removeDeadCode, replaceTensorWithInput, splitGraph } from '../../src/formats/onnx/graph-edit.ts';
import { consumers, findNode, nodesByOpType, producers, requireNode, topologicalOrder } from '../../src/formats/onnx/graph.ts';
import { AttributeType, TensorDataType, type GraphProto, type ModelProto } from '../../src/formats/onnx/types.ts';
import { FormatError } from '../../src/util/errors.ts';
import { M, K, N, maxAbsDiff, randomFloats, smallModel, smallModelReference, rawFloat } from './onnx-fixtures.ts';

const MATMUL_OUT = '/attn2/to_k/MatMul_output_0';

async function run(model: ModelProto, graph: GraphProto, feeds: Record<string, Float32Array>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(encodeModel({ ...model, graph }));
  const dims = (name: string) => (name === 'x' ? [M, K] : [M, N]);
  const inputs = Object.fromEntries(session.inputNames.map((name) => [name, new ort.Tensor('float32', feeds[name], dims(name))]));
  const out = await session.run(inputs);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function withoutValueInfo(graph: GraphProto): GraphProto {
  const { valueInfo: _v, ...rest } = graph;
  return rest;
}

describe('ONNX graph queries', () => {
  test('find by name, op type, producer and consumers', () => {
    const { graph } = smallModel().model;
    expect(findNode(graph, '/attn2/to_k/MatMul')?.opType).toBe('MatMul');
    expect(findNode(graph, 'nope')).toBeUndefined();
    expect(() => requireNode(graph, 'nope', 'unet.onnx')).toThrow(/unet\.onnx.*nope/);
    expect(nodesByOpType(graph, 'Add').map((n) => n.name)).toEqual(['/attn2/Add', '/attn2/Add_1']);
    expect(producers(graph).get(MATMUL_OUT)?.name).toBe('/attn2/to_k/MatMul');
    expect(consumers(graph).get('x')?.map((n) => n.name)).toEqual(['/attn2/to_k/MatMul', '/attn2/Gemm']);
  });

  test('topological order: sorts a reversed graph, keeps a sorted one, names a node on a cycle', () => {
    const { graph } = smallModel().model;
    expect(topologicalOrder(graph)).toEqual(graph.node);
    const reversed = { ...graph, node: [...graph.node].reverse() };
    const order = topologicalOrder(reversed);
    const position = new Map(order.map((n, i) => [n, i]));
    const producer = producers(graph);
    for (const node of order)
      for (const input of node.input) {
        const p = producer.get(input);
        if (p) expect(position.get(p)!).toBeLessThan(position.get(node)!);
      }
    const cyclic = structuredClone(graph);
    cyclic.node[1].input[1] = '/attn2/Mul_output_0'; // Add reads Mul, Mul reads Add
    expect(() => topologicalOrder(cyclic, 'cyc.onnx')).toThrow(/cyc\.onnx.*cycle through node "\/attn2\/Add"/);
  });

  test('element types are inferred through Cast, Shape, comparisons and plain ops', () => {
    const graph: GraphProto = {
      node: [
        { opType: 'Shape', input: ['x'], output: ['s'] },
        { opType: 'Cast', input: ['s'], output: ['c'], attribute: [{ name: 'to', type: AttributeType.INT, i: TensorDataType.FLOAT16 }] },
        { opType: 'Equal', input: ['x', 'x'], output: ['e'] },
        { opType: 'Relu', input: ['x'], output: ['r'] },
        { opType: 'Where', input: ['e', 'c', 'c'], output: ['w'] },
      ],
      initializer: [],
      input: [{ name: 'x', type: { tensorType: { elemType: TensorDataType.FLOAT } } }],
      output: [],
    };
    const types = inferElemTypes(graph);
    expect(Object.fromEntries(types)).toEqual({ x: 1, s: 7, c: 10, e: 9, r: 1, w: 10 });
  });
});

describe('ONNX graph edits', () => {
  test.each([
    ['declared types', (g: GraphProto) => g],
    ['inferred types', withoutValueInfo],
  ])('replacing the to_k MatMul by an input k_0 reproduces the output in ORT (%s)', async (_, prepare) => {
    const small = smallModel(11);
    const graph = prepare(small.model.graph);
    const edited = replaceTensorWithInput(graph, MATMUL_OUT, 'k_0', 'unet.onnx');
    expect(findNode(edited, '/attn2/to_k/MatMul')).toBeUndefined();
    expect(edited.initializer.map((t) => t.name)).not.toContain('onnx::MatMul_7');
    expect(edited.node.flatMap((n) => n.input)).not.toContain(MATMUL_OUT);
    expect(edited.input.map((i) => i.name)).toEqual(['x', 'k_0']);
    expect(edited.input[1].type?.tensorType?.elemType).toBe(TensorDataType.FLOAT);
    // The input graph is untouched.
    expect(graph.node).toHaveLength(7);

    const x = randomFloats(M * K, 12);
    const { y, matmul } = smallModelReference(small, x);
    const out = await run(small.model, edited, { x, k_0: Float32Array.from(matmul) });
    expect(maxAbsDiff(out.y, y)).toBeLessThan(1e-6);
    // Feeding something else changes the result: the input is really used.
    const other = await run(small.model, edited, { x, k_0: new Float32Array(M * N) });
    expect(maxAbsDiff(other.y, y)).toBeGreaterThan(1e-3);
  });

  test('replacement keeps initializers still read elsewhere and removes the producer chain', () => {
    const { graph } = smallModel().model;
    // A Transpose feeding the MatMul its weight, and a second reader of that weight.
    const g: GraphProto = structuredClone(graph);
    g.initializer.push(rawFloat('w_t', [N, K], new Float32Array(N * K)));
    g.node.unshift({ name: 'T', opType: 'Transpose', input: ['w_t'], output: ['w'], attribute: [{ name: 'perm', type: AttributeType.INTS, ints: [1, 0] }] });
    g.node[1].input[1] = 'w';
    g.node.push({ name: 'keep', opType: 'Identity', input: ['onnx::MatMul_7'], output: ['kept'] });
    g.output.push({ name: 'kept' });
    const edited = replaceTensorWithInput(g, MATMUL_OUT, { name: 'k_0', type: { tensorType: { elemType: 1 } } });
    expect(findNode(edited, 'T')).toBeUndefined();
    expect(edited.initializer.map((t) => t.name)).toEqual(['onnx::MatMul_7', 'bias', 'gemm.weight', 'gemm.bias']);
    expect(() => replaceTensorWithInput(g, 'x', 'k')).toThrow(FormatError);
    expect(() => replaceTensorWithInput(g, MATMUL_OUT, 'bias')).toThrow(/already exists/);
  });

  test('removeDeadCode drops unread nodes, initializers and their value_info', () => {
    const g: GraphProto = structuredClone(smallModel().model.graph);
    g.initializer.push(rawFloat('unused', [1], new Float32Array(1)));
    g.node.push({ name: 'dead', opType: 'Relu', input: ['x'], output: ['dead_out'] });
    g.node.push({ name: 'dead2', opType: 'Relu', input: ['dead_out'], output: ['dead_out2'] });
    g.valueInfo!.push({ name: 'dead_out2' });
    const clean = removeDeadCode(g);
    expect(clean.node.map((n) => n.name)).toEqual(smallModel().model.graph.node.map((n) => n.name));
    expect(clean.initializer.map((t) => t.name)).not.toContain('unused');
    expect(clean.valueInfo!.map((v) => v.name)).not.toContain('dead_out2');
    expect(clean.input.map((i) => i.name)).toEqual(['x']);
  });

  test.each([
    ['two pieces', [['/attn2/Mul_output_0']]],
    ['three pieces with a tensor crossing two boundaries', [['/attn2/Gemm_output_0'], ['/attn2/Mul_output_0']]],
    ['three pieces, inferred types', [['/attn2/Add_output_0'], ['/attn2/Add_1_output_0']]],
  ])('split into %s, chained in ORT, reproduces the whole graph', async (label, cuts) => {
    const small = smallModel(21);
    const graph = label.includes('inferred') ? withoutValueInfo(small.model.graph) : small.model.graph;
    const pieces = splitGraph(graph, cuts, { name: 'unet', file: 'unet.onnx' });
    expect(pieces).toHaveLength(cuts.length + 1);
    expect(pieces.flatMap((p) => p.node).length).toBe(graph.node.length);
    const x = randomFloats(M * K, 22);
    const values: Record<string, Float32Array> = { x };
    for (const piece of pieces) Object.assign(values, await run(small.model, piece, values));
    expect(maxAbsDiff(values.y, smallModelReference(small, x).y)).toBeLessThan(1e-6);
    if (cuts.length === 2 && cuts[0][0] === '/attn2/Gemm_output_0') {
      expect(pieces[0].output.map((o) => o.name)).toEqual(['/attn2/Gemm_output_0']);
      expect(pieces[1].input.map((i) => i.name)).toEqual(['x']);
      expect(pieces[2].input.map((i) => i.name).sort()).toEqual(['/attn2/Gemm_output_0', '/attn2/Mul_output_0']);
      expect(pieces[0].initializer.map((t) => t.name)).toEqual(['gemm.weight', 'gemm.bias']);
    }
  });

  test('extractSubgraph takes the nodes between tensors and the graph inputs they need', async () => {
    const small = smallModel(31);
    const sub = extractSubgraph(small.model.graph, ['/attn2/Mul_output_0'], ['y'], { name: 'tail' });
    expect(sub.node.map((n) => n.name)).toEqual(['/attn2/Gemm', '/attn2/Add_1', '/attn2/Softmax']);
    expect(sub.input.map((i) => i.name)).toEqual(['/attn2/Mul_output_0', 'x']);
    const x = randomFloats(M * K, 32);
    const whole = await run(small.model, small.model.graph, { x });
    const head = extractSubgraph(small.model.graph, ['x'], ['/attn2/Mul_output_0']);
    const mid = await run(small.model, head, { x });
    const tail = await run(small.model, sub, { x, ...mid });
    expect(maxAbsDiff(tail.y, whole.y)).toBeLessThan(1e-6);
  });

  test('bad cuts are FormatErrors naming the tensor', () => {
    const { graph } = smallModel().model;
    expect(() => splitGraph(graph, [['x']], { file: 'u.onnx' })).toThrow(/u\.onnx: x: cut 0 names a graph input/);
    expect(() => splitGraph(graph, [['nope']])).toThrow(/unknown tensor/);
    expect(() => splitGraph(graph, [['/attn2/Mul_output_0'], ['/attn2/Add_output_0']])).toThrow(/already computed in piece 0/);
    const untyped = withoutValueInfo(structuredClone(graph));
    untyped.input[0] = { name: 'x' };
    expect(() => splitGraph(untyped, [['/attn2/Mul_output_0']])).toThrow(/element type unknown/);
  });
});
