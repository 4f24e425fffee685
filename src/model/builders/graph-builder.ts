/**
 * Builds ONNX graphs the way torch.onnx names them, so forged models look like real exports:
 * node `/down_blocks.0/resnets.0/conv1/Conv` (then `Conv_1`, `Conv_2` in the same module),
 * its output `/down_blocks.0/resnets.0/conv1/Conv_output_0`, parameters named by module path
 * (`down_blocks.0.resnets.0.conv1.weight`) and folded/transposed constants as numbered anonymous
 * initializers (`onnx::MatMul_1234`).
 *
 * Weights are not materialized here: each initializer is a WeightSpec (name, dims, how to fill it),
 * so a multi-GB model can be streamed to disk one tensor at a time.
 */
import {
  AttributeType,
  TensorDataType,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type TensorShapeDimension,
  type ValueInfoProto,
} from '../../formats/onnx/types.ts';
import { float32ToHalfBits as float32ToHalf } from '../../util/half.ts';

export type GraphDtype = 'fp32' | 'fp16';

/** How an initializer's values are made. */
export type WeightInit =
  /** mean + std * N(0, 1), drawn from a generator seeded by (forge seed, parameter name). */
  | { kind: 'normal'; std: number; mean?: number }
  /** Fixed values (InstanceNormalization's unit scale, zero bias). */
  | { kind: 'values'; values: Float32Array };

export interface WeightSpec {
  /** Initializer name in the graph. */
  name: string;
  /** The torch parameter it holds (`down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight`); seeds its values. */
  param: string;
  /** Stored dims. */
  dims: number[];
  /** Dims of the torch parameter; values are drawn in this layout, then `transposed` (2-D) if set. */
  torchDims: number[];
  transposed: boolean;
  init: WeightInit;
}

export type Attribute = Omit<AttributeProto, 'name'>;
export const attr = {
  int: (i: number): Attribute => ({ type: AttributeType.INT, i }),
  ints: (ints: number[]): Attribute => ({ type: AttributeType.INTS, ints }),
  float: (f: number): Attribute => ({ type: AttributeType.FLOAT, f }),
  string: (s: string): Attribute => ({ type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
  tensor: (t: TensorProto): Attribute => ({ type: AttributeType.TENSOR, t }),
};

export type Dim = number | string;

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly weights: WeightSpec[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly usedNames = new Map<string, number>();
  private readonly weightNames = new Set<string>();
  private anonymousId: number;

  constructor(
    readonly dtype: GraphDtype,
    readonly opset: 14 | 17,
    firstAnonymousId = 1,
  ) {
    this.anonymousId = firstAnonymousId;
  }

  /** ONNX element type of the model's floating-point tensors. */
  get floatType(): number {
    return this.dtype === 'fp16' ? TensorDataType.FLOAT16 : TensorDataType.FLOAT;
  }

  root(): Scope {
    return new Scope(this, '', '');
  }

  addInput(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  addOutput(name: string, elemType: number, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** torch.onnx numbering: the first `Conv` in a module is `Conv`, the next `Conv_1`. */
  mintNodeName(path: string, opType: string): string {
    const base = `${path}/${opType}`;
    const count = this.usedNames.get(base) ?? 0;
    this.usedNames.set(base, count + 1);
    return count === 0 ? base : `${base}_${count}`;
  }

  nextAnonymousName(consumerOp: string): string {
    return `onnx::${consumerOp}_${this.anonymousId++}`;
  }

  addWeight(spec: WeightSpec): string {
    if (this.weightNames.has(spec.name)) throw new Error(`forge: initializer ${spec.name} defined twice`);
    this.weightNames.add(spec.name);
    this.weights.push(spec);
    return spec.name;
  }

  addNode(node: NodeProto): void {
    this.nodes.push(node);
  }
}

/** A module path (`/down_blocks.0/resnets.0`) and its parameter prefix (`down_blocks.0.resnets.0`). */
export class Scope {
  constructor(
    readonly graph: GraphBuilder,
    readonly path: string,
    readonly prefix: string,
  ) {}

  /** A submodule; a ModuleList index joins its list in the path as torch.onnx writes it (`/down_blocks.0`). */
  child(name: string | number): Scope {
    const part = String(name);
    const path = typeof name === 'number' ? `${this.path}.${part}` : `${this.path}/${part}`;
    return new Scope(this.graph, path, this.prefix ? `${this.prefix}.${part}` : part);
  }

  /** Adds a node; returns its outputs (`<node name>_output_<i>` unless `outputNames` are given). */
  ops(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputs: number | string[] = 1): string[] {
    const name = this.graph.mintNodeName(this.path, opType);
    const output = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`) : outputs;
    const attribute = Object.entries(attributes).map(([key, value]) => ({ name: key, ...value }));
    this.graph.addNode({ name, opType, input: inputs, output, ...(attribute.length ? { attribute } : {}) });
    return output;
  }

  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputName?: string): string {
    return this.ops(opType, inputs, attributes, outputName ? [outputName] : 1)[0];
  }

  /** A `Constant` node holding int64 values (scalar when `dims` is []). */
  int64(values: number[], dims: number[] = [values.length]): string {
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.op('Constant', [], { value: attr.tensor({ dims, dataType: TensorDataType.INT64, rawData: bytesOf(raw) }) });
  }

  /** A `Constant` node holding floats in the model's float type. */
  float(values: number[], dims: number[] = []): string {
    return this.op('Constant', [], { value: attr.tensor(floatTensor(values, dims, this.graph.floatType)) });
  }

  /** A named parameter initializer: `<module path>.<suffix>`. */
  param(suffix: string, dims: number[], init: WeightInit): string {
    const param = `${this.prefix}.${suffix}`;
    return this.graph.addWeight({ name: param, param, dims, torchDims: dims, transposed: false, init });
  }

  /**
   * An anonymous initializer holding a parameter after torch.onnx's folding: `onnx::<op>_<n>`.
   * `torchDims` is the parameter's own shape; `dims` the stored one (transposed for Linear->MatMul).
   */
  anonymous(consumerOp: string, suffix: string, torchDims: number[], dims: number[], init: WeightInit, transposed = false): string {
    const param = `${this.prefix}.${suffix}`;
    const name = this.graph.nextAnonymousName(consumerOp);
    return this.graph.addWeight({ name, param, dims, torchDims, transposed, init });
  }
}

export function valueInfo(name: string, elemType: number, dims: Dim[]): ValueInfoProto {
  const dim: TensorShapeDimension[] = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Little-endian raw bytes of `values` as FLOAT or FLOAT16. */
export function floatBytes(values: ArrayLike<number>, elemType: number): Uint8Array {
  if (elemType === TensorDataType.FLOAT) return bytesOf(Float32Array.from(values));
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float32ToHalf(values[i]);
  return bytesOf(half);
}

function floatTensor(values: number[], dims: number[], elemType: number): TensorProto {
  return { dims, dataType: elemType, rawData: floatBytes(values, elemType) };
}
