/**
 * CPU evaluation of the small integer (and scalar float) computations of an exported graph:
 * shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape target), ConstantOfShape,
 * Range, Cast, comparisons and Where. Values are float64 holding exact integers; float results
 * round to the element type, as onnxruntime would compute them.
 */
import { TensorDataType } from '../formats/onnx/types.ts';
import { ShapeError } from '../util/errors.ts';
import { float32ToHalfBits, halfBitsToFloat32 } from '../util/half.ts';
import { broadcastShapes } from '../gpu/kernels/broadcast.ts';
import type { OpAttribute } from './op-types.ts';
import { expandView, readView, sliceView, transposeView, type StridedView } from './ops/layout-math.ts';

export interface HostTensor {
  dims: number[];
  data: Float64Array;
  /** ONNX TensorProto data type. */
  elemType: number;
}

export const FLOAT_TYPES: ReadonlySet<number> = new Set([TensorDataType.FLOAT, TensorDataType.FLOAT16, TensorDataType.DOUBLE, TensorDataType.BFLOAT16]);

/** Rounds values to what the element type can hold. */
export function roundTo(elemType: number, value: number): number {
  switch (elemType) {
    case TensorDataType.FLOAT:
      return Math.fround(value);
    case TensorDataType.FLOAT16:
      return halfBitsToFloat32(float32ToHalfBits(value));
    case TensorDataType.DOUBLE:
      return value;
    case TensorDataType.BOOL:
      return value !== 0 ? 1 : 0;
    default:
      return Number.isFinite(value) ? Math.trunc(value) : value;
  }
}

export interface EvalArgs {
  label: string;
  inputs: (HostTensor | null)[];
  attributes: Record<string, OpAttribute>;
  /** Output shapes and attributes from the op's prepare, when it is also a GPU op. */
  outputShapes?: number[][];
}

type Evaluator = (args: EvalArgs) => HostTensor[];

function elementwise(f: (...v: number[]) => number, outType?: (args: EvalArgs) => number): Evaluator {
  return (args) => {
    const inputs = args.inputs as HostTensor[];
    const dims = broadcastShapes(args.label, ...inputs.map((t) => t.dims));
    const views = inputs.map((t) => readView(t.data, expandView(args.label, t.dims, dims)));
    const elemType = outType ? outType(args) : inputs[0].elemType;
    const data = new Float64Array(views[0].length);
    for (let i = 0; i < data.length; i++) data[i] = roundTo(elemType, f(...views.map((v) => v[i])));
    return [{ dims, data, elemType }];
  };
}

const bool = (): number => TensorDataType.BOOL;

/** ONNX integer Div truncates toward zero; float Div divides. */
const divide: Evaluator = (args) => {
  const integral = !FLOAT_TYPES.has(args.inputs[0]!.elemType);
  return elementwise((a, b) => (integral ? Math.trunc(a / b) : a / b))(args);
};

function viewOp(view: (args: EvalArgs) => StridedView): Evaluator {
  return (args) => {
    const x = args.inputs[0]!;
    const v = view(args);
    return [{ dims: v.shape, data: readView(x.data, v), elemType: x.elemType }];
  };
}

function sameData(args: EvalArgs): HostTensor[] {
  const x = args.inputs[0]!;
  return [{ dims: args.outputShapes![0], data: x.data, elemType: x.elemType }];
}

export const HOST_EVALUATORS: Readonly<Record<string, Evaluator>> = {
  Identity: (args) => [args.inputs[0]!],
  Cast: (args) => {
    const x = args.inputs[0]!;
    const to = args.attributes.to as number;
    return [{ dims: x.dims, data: x.data.map((v) => roundTo(to, v)), elemType: to }];
  },
  Reshape: sameData,
  Flatten: sameData,
  Squeeze: sameData,
  Unsqueeze: sameData,
  Transpose: viewOp((args) => transposeView(args.inputs[0]!.dims, args.attributes.perm as number[])),
  Slice: viewOp((args) => {
    const a = args.attributes as { axes: number[]; starts: number[]; ends: number[]; steps: number[] };
    return sliceView(args.inputs[0]!.dims, { ...a, shape: args.outputShapes![0] });
  }),
  Expand: viewOp((args) => expandView(args.label, args.inputs[0]!.dims, args.outputShapes![0])),
  Gather: (args) => {
    const x = args.inputs[0]!;
    const axis = args.attributes.axis as number;
    const indices = args.attributes.indices as Int32Array;
    const outer = x.dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = x.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const data = new Float64Array(outer * indices.length * inner);
    for (let o = 0; o < outer; o++)
      indices.forEach((index, k) => {
        for (let i = 0; i < inner; i++) data[(o * indices.length + k) * inner + i] = x.data[(o * x.dims[axis] + index) * inner + i];
      });
    return [{ dims: args.outputShapes![0], data, elemType: x.elemType }];
  },
  Concat: (args) => {
    const inputs = args.inputs as HostTensor[];
    const axis = args.attributes.axis as number;
    const dims = args.outputShapes![0];
    const data = new Float64Array(dims.reduce((a, b) => a * b, 1));
    const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    let start = 0;
    for (const x of inputs) {
      const block = x.dims[axis] * inner;
      for (let o = 0; o < outer; o++) data.set(x.data.subarray(o * block, (o + 1) * block), o * dims[axis] * inner + start * inner);
      start += x.dims[axis];
    }
    return [{ dims, data, elemType: inputs[0].elemType }];
  },
  ConstantOfShape: (args) => {
    const dims = Array.from(args.inputs[0]!.data);
    const value = args.attributes.value as Float32Array | Int32Array | undefined;
    const elemType = (args.attributes.valueType as number | undefined) ?? TensorDataType.FLOAT;
    const data = new Float64Array(dims.reduce((a, b) => a * b, 1)).fill(value ? value[0] : 0);
    return [{ dims, data, elemType }];
  },
  Range: (args) => {
    const [start, limit, delta] = args.inputs.map((t) => t!.data[0]);
    if (delta === 0) throw new ShapeError(`${args.label}: delta is 0`);
    const count = Math.max(0, Math.ceil((limit - start) / delta));
    const elemType = args.inputs[0]!.elemType;
    return [{ dims: [count], data: Float64Array.from({ length: count }, (_, i) => roundTo(elemType, start + i * delta)), elemType }];
  },
  Add: elementwise((a, b) => a + b),
  Sub: elementwise((a, b) => a - b),
  Mul: elementwise((a, b) => a * b),
  Div: divide,
  Pow: elementwise((a, b) => a ** b),
  Max: elementwise(Math.max),
  Min: elementwise(Math.min),
  Mod: elementwise((a, b) => a - Math.floor(a / b) * b),
  Neg: elementwise((a) => -a),
  Abs: elementwise(Math.abs),
  Floor: elementwise(Math.floor),
  Ceil: elementwise(Math.ceil),
  Sqrt: elementwise(Math.sqrt),
  Exp: elementwise(Math.exp),
  Log: elementwise(Math.log),
  Sin: elementwise(Math.sin),
  Cos: elementwise(Math.cos),
  Equal: elementwise((a, b) => (a === b ? 1 : 0), bool),
  Less: elementwise((a, b) => (a < b ? 1 : 0), bool),
  Greater: elementwise((a, b) => (a > b ? 1 : 0), bool),
  LessOrEqual: elementwise((a, b) => (a <= b ? 1 : 0), bool),
  GreaterOrEqual: elementwise((a, b) => (a >= b ? 1 : 0), bool),
  Not: elementwise((a) => (a ? 0 : 1), bool),
  And: elementwise((a, b) => (a && b ? 1 : 0), bool),
  Or: elementwise((a, b) => (a || b ? 1 : 0), bool),
  Where: (args) => elementwise((c, a, b) => (c ? a : b), () => args.inputs[1]!.elemType)(args),
};
