/** One-node ONNX graphs run through onnxruntime-node and through the WGSL executor. */
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../src/formats/onnx/codec.ts';
import { tensorFromArray } from '../../src/formats/onnx/tensor.ts';
import { AttributeType, TensorDataType, type AttributeProto, type ModelProto, type TensorProto } from '../../src/formats/onnx/types.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { loadPieceGraph } from '../../src/autograd/executor.ts';
import { SeededRandom } from '../../src/util/random.ts';

export type AttrValue = number | number[] | string | { tensor: TensorProto } | { float: number } | { floats: number[] };

export interface NodeCase {
  op: string;
  /** Runtime float inputs (random normal unless `data` given). */
  inputs: { name: string; dims: number[]; data?: Float32Array }[];
  /** Constant inputs (initializers), by position name; '' leaves an optional input out. */
  constants?: TensorProto[];
  /** Node input names in order (default: runtime inputs, then constants). */
  order?: string[];
  attributes?: Record<string, AttrValue>;
  outputs?: string[];
  opset?: number;
}

export function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('tensor' in value) return { name, type: AttributeType.TENSOR, t: value.tensor };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

export function int64s(name: string, values: number[], dims = [values.length]): TensorProto {
  return tensorFromArray(name, dims, BigInt64Array.from(values.map(BigInt)));
}

export function floats(name: string, values: ArrayLike<number>, dims: number[]): TensorProto {
  return tensorFromArray(name, dims, Float32Array.from(values));
}

export function oneNodeModel(c: NodeCase): ModelProto {
  const outputs = c.outputs ?? ['y'];
  const order = c.order ?? [...c.inputs.map((i) => i.name), ...(c.constants ?? []).map((t) => t.name!)];
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: c.opset ?? 17 }],
    producerName: 'lethe-tests',
    graph: {
      name: c.op,
      node: [{ name: `/test/${c.op}`, opType: c.op, input: order, output: outputs, attribute: Object.entries(c.attributes ?? {}).map(([k, v]) => attribute(k, v)) }],
      initializer: c.constants ?? [],
      input: c.inputs.map((i) => ({ name: i.name, type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: i.dims.map((d) => ({ dimValue: d })) } } } })),
      output: outputs.map((name) => ({ name, type: { tensorType: { elemType: TensorDataType.FLOAT } } })),
    },
  };
}

export function inputData(c: NodeCase, seed: number): Map<string, Float32Array> {
  const rng = new SeededRandom(seed);
  return new Map(c.inputs.map((i) => [i.name, i.data ?? rng.normalArray(i.dims.reduce((a, b) => a * b, 1))]));
}

export async function runOrt(model: ModelProto, feeds: Map<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const result = await session.run(Object.fromEntries([...feeds].map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
    return Object.fromEntries(Object.entries(result).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
  } finally {
    await session.release();
  }
}

export async function runExecutor(ctx: GpuContext, model: ModelProto, feeds: Map<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const graph = loadPieceGraph(ctx, model, Object.fromEntries([...feeds].map(([k, v]) => [k, v.dims])), `${model.graph.name}.onnx`);
  const inputs = Object.fromEntries([...feeds].map(([k, v]) => [k, ctx.upload(v.data, v.dims)]));
  try {
    const { outputs } = graph.forward(inputs);
    const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      out[name] = { data: await ctx.read(tensor), dims: tensor.shape };
      tensor.release();
    }
    return out;
  } finally {
    for (const t of Object.values(inputs)) t.release();
    graph.release();
  }
}
