/**
 * Element-type inference, light: the data type of every tensor in a graph, from the graph's
 * declared types, initializers and a few per-op rules (no shapes). Enough to declare the inputs
 * of cut-out pieces, where diffusers exports carry no value_info.
 */
import { FormatError } from '../../util/errors.ts';
import { AttributeType, TensorDataType, type AttributeProto, type GraphProto, type NodeProto } from './types.ts';
import { topologicalOrder } from './graph.ts';

const boolOutputs = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const int64Outputs = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero']);

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** Output element types of one node, given a lookup for its inputs' types. */
function outputTypes(node: NodeProto, typeOf: (name: string) => number | undefined): (number | undefined)[] {
  const first = node.input.find((name) => name !== '' && typeOf(name) !== undefined);
  const same = first === undefined ? undefined : typeOf(first);
  const all = (t: number | undefined) => node.output.map(() => t);
  if (node.domain && node.domain !== 'ai.onnx') return all(same);
  switch (node.opType) {
    case 'Cast':
      return all(attribute(node, 'to')?.i);
    case 'CastLike':
      return all(typeOf(node.input[1]));
    case 'Constant': {
      const value = node.attribute?.[0];
      if (value?.type === AttributeType.TENSOR) return all(value.t?.dataType);
      if (value?.type === AttributeType.FLOAT || value?.type === AttributeType.FLOATS) return all(TensorDataType.FLOAT);
      if (value?.type === AttributeType.INT || value?.type === AttributeType.INTS) return all(TensorDataType.INT64);
      return all(undefined);
    }
    case 'ConstantOfShape':
      return all(attribute(node, 'value')?.t?.dataType ?? TensorDataType.FLOAT);
    case 'Where':
      return all(typeOf(node.input[1]) ?? typeOf(node.input[2]));
    case 'TopK':
      return [same, TensorDataType.INT64];
    default:
      if (boolOutputs.has(node.opType)) return all(TensorDataType.BOOL);
      if (int64Outputs.has(node.opType)) return all(TensorDataType.INT64);
      return all(same);
  }
}

/** Every tensor's element type that can be told (declared types win over inferred ones). */
export function inferElemTypes(graph: GraphProto, file = 'graph'): Map<string, number> {
  const types = new Map<string, number>();
  for (const tensor of graph.initializer) if (tensor.name) types.set(tensor.name, tensor.dataType);
  for (const info of [...graph.input, ...graph.output, ...(graph.valueInfo ?? [])]) {
    const elemType = info.type?.tensorType?.elemType;
    if (elemType) types.set(info.name, elemType);
  }
  for (const node of topologicalOrder(graph, file)) {
    const inferred = outputTypes(node, (name) => types.get(name));
    node.output.forEach((name, i) => {
      const t = inferred[i];
      if (name !== '' && t !== undefined && t !== TensorDataType.UNDEFINED && !types.has(name)) types.set(name, t);
    });
  }
  return types;
}
