/**
 * Shape folding at load: with every graph input's shape fixed, each node's output shape is
 * known, every shape computation (Shape, Gather, Unsqueeze, Concat, ConstantOfShape, Range,
 * Cast, Equal, Where ... on int64 tensors) is evaluated on the CPU, and what remains is a list
 * of GPU compute nodes whose shape operands are attributes. An op the executor cannot run is
 * an error here, naming the node, never during a step.
 */
import { topologicalOrder, nodeLabel } from '../formats/onnx/graph.ts';
import { tensorToArray } from '../formats/onnx/tensor.ts';
import { AttributeType, TensorDataType, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from '../formats/onnx/types.ts';
import { FormatError, ShapeError } from '../util/errors.ts';
import { halfBitsToFloat32, bfloat16BitsToFloat32 } from '../util/half.ts';
import type { OpAttribute, OpNode } from './op-types.ts';
import { FLOAT_TYPES, HOST_EVALUATORS, type HostTensor } from './fold-eval.ts';
import { opOf } from './ops/index.ts';

/** Constants up to this many elements are read onto the CPU for folding; larger ones stay GPU-only weights. */
const HOST_FOLD_LIMIT = 1 << 16;

export interface GraphValue {
  name: string;
  shape: number[];
  elemType: number;
}

/** A constant a GPU node reads: an initializer (converted on upload) or a folded value. */
export type GraphConstant = { kind: 'initializer'; tensor: TensorProto; shape: number[] } | { kind: 'host'; value: HostTensor };

export interface FoldedGraph {
  inputs: GraphValue[];
  outputs: GraphValue[];
  nodes: OpNode[];
  /** Constants read by `nodes` or returned as outputs, by tensor name. */
  constants: Map<string, GraphConstant>;
  /** Nodes evaluated on the CPU at load (shape arithmetic). */
  foldedCount: number;
}

interface Known {
  shape: number[];
  elemType: number;
  host?: HostTensor;
  initializer?: TensorProto;
}

export function foldGraph(model: ModelProto, inputShapes: Record<string, readonly number[]>, file: string): FoldedGraph {
  const graph = model.graph;
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
  if (opset < 7) throw new FormatError(file, 'opset_import', `default-domain opset ${opset} is too old (need >= 7)`);
  const known = new Map<string, Known>();
  for (const init of graph.initializer) {
    if (!init.name) throw new FormatError(file, 'graph.initializer', 'an initializer has no name');
    known.set(init.name, { shape: (init.dims ?? []).map(Number), elemType: init.dataType, initializer: init });
  }
  const inputs: GraphValue[] = [];
  for (const input of graph.input) {
    if (known.has(input.name)) continue;
    const given = inputShapes[input.name];
    if (!given) throw new ShapeError(`${file}: no shape given for input "${input.name}" (inputShapes has ${Object.keys(inputShapes).join(', ') || 'nothing'})`);
    const declared = input.type?.tensorType?.shape?.dim ?? [];
    const elemType = input.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
    if (declared.length > 0 && declared.length !== given.length) throw new ShapeError(`${file}: input "${input.name}" has rank ${declared.length}, given shape [${given}]`);
    declared.forEach((d, i) => {
      if (d.dimValue !== undefined && d.dimValue !== given[i]) throw new ShapeError(`${file}: input "${input.name}" axis ${i} is ${d.dimValue}, given shape [${given}]`);
    });
    if (!FLOAT_TYPES.has(elemType) && elemType !== TensorDataType.INT64 && elemType !== TensorDataType.INT32) throw new ShapeError(`${file}: input "${input.name}" has element type ${elemType}; the executor takes float and integer inputs`);
    inputs.push({ name: input.name, shape: [...given], elemType });
    known.set(input.name, { shape: [...given], elemType });
  }
  for (const name of Object.keys(inputShapes)) if (!inputs.some((i) => i.name === name)) throw new ShapeError(`${file}: inputShapes names "${name}", which is not an input of the graph`);

  const nodes: OpNode[] = [];
  let foldedCount = 0;
  for (const node of topologicalOrder(graph, file)) {
    const label = `${node.opType} "${node.name ?? ''}"`;
    if (node.domain && node.domain !== 'ai.onnx') throw new ShapeError(`${file}: ${label} is in domain "${node.domain}", which the WGSL executor does not support`);
    const attributes = readAttributes(node, file);
    const valueTensor = node.attribute?.find((a) => a.name === 'value')?.t;
    if (node.opType === 'ConstantOfShape' && valueTensor) attributes.valueType = valueTensor.dataType;
    const ins = node.input.map((name) => {
      if (name === '') return null;
      const value = known.get(name);
      if (!value) throw new FormatError(file, nodeLabel(node), `input "${name}" is produced by nothing`);
      return value;
    });
    const setOutputs = (values: Known[]): void => node.output.forEach((name, i) => name && known.set(name, values[i]));

    if (node.opType === 'Constant') {
      setOutputs([constantValue(node, file)]);
      foldedCount++;
      continue;
    }
    if (node.opType === 'Shape' || node.opType === 'Size') {
      const shape = ins[0]!.shape;
      const rank = shape.length;
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      const dims = node.opType === 'Size' ? [shape.reduce((a, b) => a * b, 1)] : shape.slice(clamp((attributes.start as number | undefined) ?? 0), clamp((attributes.end as number | undefined) ?? rank));
      const host = { dims: node.opType === 'Size' ? [] : [dims.length], data: Float64Array.from(dims), elemType: TensorDataType.INT64 };
      setOutputs([{ shape: host.dims, elemType: host.elemType, host }]);
      foldedCount++;
      continue;
    }

    // Ops without `prepare` (the fused ones) are made by rewrites after folding, never read from a file.
    const found = opOf(node.opType);
    const spec = found?.prepare ? { staticInputs: found.staticInputs, prepare: found.prepare } : undefined;
    const evaluator = Object.hasOwn(HOST_EVALUATORS, node.opType) ? HOST_EVALUATORS[node.opType] : undefined;
    const hostInputs = ins.map((v) => (v ? hostValue(v, file) : null));
    const allHost = ins.every((v, i) => v === null || hostInputs[i] !== null);

    // Prepare (shape inference, operand resolution) when the op has a GPU form.
    let prepared: { attributes: Record<string, OpAttribute>; outputShapes: number[][] } | undefined;
    const operands = ins.map((v, i) => (spec?.staticInputs?.includes(i) && v ? hostInputs[i]?.data ?? null : null));
    if (spec) {
      for (const i of spec.staticInputs ?? []) {
        if (ins[i] && !hostInputs[i]) throw new ShapeError(`${file}: ${label}: input ${i} ("${node.input[i]}") must be known at load, but it depends on runtime values`);
      }
      prepared = spec.prepare({ label, attributes, inputShapes: ins.map((v) => v?.shape ?? null), operands, outputCount: node.output.length, opset });
    }

    if (evaluator && allHost) {
      const outputs = evaluator({ label, inputs: hostInputs, attributes: prepared?.attributes ?? attributes, outputShapes: prepared?.outputShapes });
      setOutputs(outputs.map((host) => ({ shape: host.dims, elemType: host.elemType, host })));
      foldedCount++;
      continue;
    }
    if (!spec || !prepared) {
      const why = evaluator ? 'it depends on runtime values and has no GPU kernel' : 'the WGSL executor has no kernel for it';
      throw new ShapeError(`${file}: unsupported op ${label}: ${why}`);
    }
    const outElemType = outputElemType(node, attributes, ins, label, file);
    const inputsUsed = node.input.map((name, i) => (spec.staticInputs?.includes(i) ? '' : name));
    nodes.push({
      opType: node.opType,
      name: node.name ?? '',
      inputs: inputsUsed,
      outputs: [...node.output],
      attributes: prepared.attributes,
      inputShapes: inputsUsed.map((name, i) => (name ? ins[i]!.shape : [])),
      outputShapes: prepared.outputShapes,
    });
    setOutputs(prepared.outputShapes.map((shape) => ({ shape, elemType: outElemType })));
  }

  const outputs = graph.output.map((o) => {
    const value = known.get(o.name);
    if (!value) throw new FormatError(file, 'graph.output', `"${o.name}" is produced by nothing`);
    return { name: o.name, shape: value.shape, elemType: value.elemType };
  });
  return pruneDeadNodes({ inputs, outputs, nodes, constants: new Map(), foldedCount }, known);
}

/** Keeps nodes some output depends on; collects the constants those nodes (and outputs) read. */
function pruneDeadNodes(folded: FoldedGraph, known: Map<string, Known>): FoldedGraph {
  const needed = new Set(folded.outputs.map((o) => o.name));
  const kept: OpNode[] = [];
  for (let i = folded.nodes.length - 1; i >= 0; i--) {
    const node = folded.nodes[i];
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const input of node.inputs) if (input) needed.add(input);
  }
  kept.reverse();
  const produced = new Set(kept.flatMap((n) => n.outputs));
  const inputNames = new Set(folded.inputs.map((i) => i.name));
  for (const name of needed) {
    if (produced.has(name) || inputNames.has(name)) continue;
    const value = known.get(name)!;
    folded.constants.set(name, value.host ? { kind: 'host', value: value.host } : { kind: 'initializer', tensor: value.initializer!, shape: value.shape });
  }
  return { ...folded, nodes: kept };
}

function outputElemType(node: NodeProto, attributes: Record<string, OpAttribute>, ins: (Known | null)[], label: string, file: string): number {
  if (node.opType === 'Cast') {
    const to = attributes.to as number;
    if (!FLOAT_TYPES.has(to) && !(to === TensorDataType.INT64 || to === TensorDataType.INT32) ) throw new ShapeError(`${file}: ${label} casts a runtime tensor to type ${to}; the executor keeps runtime values as floats`);
    if (!FLOAT_TYPES.has(to) && FLOAT_TYPES.has(ins[0]!.elemType)) throw new ShapeError(`${file}: ${label} casts runtime floats to integers, which the executor does not support`);
    return to;
  }
  if (node.opType === 'Where') return ins[1]!.elemType;
  return ins[0]!.elemType;
}

/** A known value's CPU contents when small enough to fold with, else null. */
function hostValue(value: Known, file: string): HostTensor | null {
  if (value.host) return value.host;
  if (!value.initializer) return null;
  const count = value.shape.reduce((a, b) => a * b, 1);
  if (count > HOST_FOLD_LIMIT) return null;
  value.host = { dims: value.shape, data: tensorToFloat64(value.initializer, file), elemType: value.initializer.dataType };
  return value.host;
}

export function tensorToFloat64(tensor: TensorProto, file: string): Float64Array {
  const array = tensorToArray(tensor, file);
  if (tensor.dataType === TensorDataType.FLOAT16) return Float64Array.from(array as Uint16Array, halfBitsToFloat32);
  if (tensor.dataType === TensorDataType.BFLOAT16) return Float64Array.from(array as Uint16Array, bfloat16BitsToFloat32);
  if (array instanceof BigInt64Array || array instanceof BigUint64Array) return Float64Array.from(array, Number);
  return Float64Array.from(array as ArrayLike<number>);
}

function constantValue(node: NodeProto, file: string): Known {
  const attribute = node.attribute?.[0];
  if (!attribute || node.attribute!.length !== 1) throw new FormatError(file, nodeLabel(node), 'a Constant needs exactly one value attribute');
  const scalar = (data: number[], elemType: number, dims: number[]): Known => {
    const host = { dims, data: Float64Array.from(data), elemType };
    return { shape: dims, elemType, host };
  };
  switch (attribute.name) {
    case 'value': {
      const tensor = attribute.t!;
      const shape = (tensor.dims ?? []).map(Number);
      if (shape.reduce((a, b) => a * b, 1) <= HOST_FOLD_LIMIT) return scalar(Array.from(tensorToFloat64(tensor, file)), tensor.dataType, shape);
      return { shape, elemType: tensor.dataType, initializer: { ...tensor, name: node.output[0] } };
    }
    case 'value_float':
      return scalar([attribute.f ?? 0], TensorDataType.FLOAT, []);
    case 'value_floats':
      return scalar(attribute.floats ?? [], TensorDataType.FLOAT, [attribute.floats?.length ?? 0]);
    case 'value_int':
      return scalar([attribute.i ?? 0], TensorDataType.INT64, []);
    case 'value_ints':
      return scalar(attribute.ints ?? [], TensorDataType.INT64, [attribute.ints?.length ?? 0]);
    default:
      throw new FormatError(file, nodeLabel(node), `Constant attribute ${attribute.name} is not supported`);
  }
}

function readAttributes(node: NodeProto, file: string): Record<string, OpAttribute> {
  const out: Record<string, OpAttribute> = {};
  for (const a of node.attribute ?? []) out[a.name] = attributeValue(a, node, file);
  return out;
}

function attributeValue(a: AttributeProto, node: NodeProto, file: string): OpAttribute {
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f ?? 0;
    case AttributeType.INT:
      return a.i ?? 0;
    case AttributeType.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case AttributeType.FLOATS:
      return a.floats ?? [];
    case AttributeType.INTS:
      return a.ints ?? [];
    case AttributeType.TENSOR: {
      // ConstantOfShape's `value`: keep the value and its type.
      const values = tensorToFloat64(a.t!, file);
      return FLOAT_TYPES.has(a.t!.dataType) ? Float32Array.from(values) : Int32Array.from(values);
    }
    default:
      throw new FormatError(file, nodeLabel(node), `attribute ${a.name} has type ${a.type}, which the executor does not read`);
  }
}
