/**
 * Light symbolic shape inference for the tensors the converter cuts a UNet at, so that the
 * manifest can give every piece input/output a shape ([batch_size, 320, height_div2, width_div2])
 * without running the model. Dims are monomials over the graph inputs' symbolic dims
 * (coefficient x product of symbols): enough for convolution strides, upsampling, flattening
 * (height x width) and Reshape's -1. Small int64 tensors (Shape -> Gather -> Concat chains) are
 * evaluated as lists of such dims, which is how torch.onnx writes dynamic reshapes.
 * Anything it cannot tell is `undefined`; callers decide what that means.
 */
import { dataTypeInfo } from '../../formats/onnx/data-types.ts';
import { convOutputLength } from '../../gpu/kernels/conv-output.ts';
import { topologicalOrder } from '../../formats/onnx/graph.ts';
import { tensorToArray } from '../../formats/onnx/tensor.ts';
import { AttributeType, TensorDataType, type GraphProto, type NodeProto, type TensorProto } from '../../formats/onnx/types.ts';

/** coefficient x prod(symbol^exponent). A plain number has no symbols. */
export interface Monomial {
  readonly coef: number;
  readonly syms: Readonly<Record<string, number>>;
}
export type SymDim = Monomial | undefined;
export type SymShape = SymDim[];

const num = (value: number): Monomial => ({ coef: value, syms: {} });
const sym = (name: string): Monomial => ({ coef: 1, syms: { [name]: 1 } });
const isNumber = (d: SymDim): d is Monomial => d !== undefined && Object.keys(d.syms).length === 0;

function combine(a: SymDim, b: SymDim, sign: 1 | -1): SymDim {
  if (a === undefined || b === undefined) return undefined;
  const syms: Record<string, number> = { ...a.syms };
  for (const [s, e] of Object.entries(b.syms)) {
    const next = (syms[s] ?? 0) + sign * e;
    if (next === 0) delete syms[s];
    else syms[s] = next;
  }
  const coef = sign === 1 ? a.coef * b.coef : a.coef / b.coef;
  return Number.isFinite(coef) ? { coef, syms } : undefined;
}
export const mulDim = (a: SymDim, b: SymDim): SymDim => combine(a, b, 1);
export const divDim = (a: SymDim, b: SymDim): SymDim => combine(a, b, -1);

function sameSyms(a: Monomial, b: Monomial): boolean {
  const ka = Object.keys(a.syms);
  return ka.length === Object.keys(b.syms).length && ka.every((k) => a.syms[k] === b.syms[k]);
}
export function dimEquals(a: SymDim, b: SymDim): boolean {
  return a !== undefined && b !== undefined && a.coef === b.coef && sameSyms(a, b);
}
function addDim(a: SymDim, b: SymDim, sign: 1 | -1 = 1): SymDim {
  if (a === undefined || b === undefined || !sameSyms(a, b)) return undefined;
  return { coef: a.coef + sign * b.coef, syms: a.syms };
}

/** A dim as the manifest writes it: an integer, or an identifier such as `height_div8` or `height_x_width`. */
export function renderDim(d: SymDim): number | string | undefined {
  if (d === undefined) return undefined;
  const entries = Object.entries(d.syms);
  if (entries.length === 0) return Number.isInteger(d.coef) && d.coef >= 1 ? d.coef : undefined;
  const parts: string[] = [];
  for (const [s, e] of entries) {
    if (!Number.isInteger(e)) return undefined;
    if (e > 0) parts.push(e === 1 ? s : `${s}_pow${e}`);
  }
  const denominators = entries.filter(([, e]) => e < 0).map(([s, e]) => (e === -1 ? s : `${s}_pow${-e}`));
  let name = parts.length > 0 ? parts.join('_x_') : 'one';
  if (denominators.length > 0) name += `_per_${denominators.join('_x_')}`;
  if (d.coef !== 1) {
    if (d.coef > 1 && Number.isInteger(d.coef)) name += `_mul${d.coef}`;
    else if (d.coef > 0 && Number.isInteger(1 / d.coef)) name += `_div${1 / d.coef}`;
    else return undefined;
  }
  return name;
}

function attribute(node: NodeProto, name: string) {
  return node.attribute?.find((a) => a.name === name);
}
function intsAttr(node: NodeProto, name: string): number[] | undefined {
  return attribute(node, name)?.ints;
}
function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a?.type === AttributeType.INT && a.i !== undefined ? a.i : fallback;
}
const normalizeAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

function broadcast(a: SymShape, b: SymShape, preferSecond = false): SymShape {
  const rank = Math.max(a.length, b.length);
  const out: SymShape = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i];
    const y = b[b.length - rank + i];
    if (a.length - rank + i < 0) out.push(y);
    else if (b.length - rank + i < 0) out.push(x);
    else if (isNumber(x) && x.coef === 1) out.push(y);
    else if (isNumber(y) && y.coef === 1) out.push(x);
    else if (dimEquals(x, y)) out.push(x);
    else if (isNumber(x) && !isNumber(y)) out.push(x);
    else if (isNumber(y) && !isNumber(x)) out.push(y);
    else out.push(preferSecond ? (y ?? x) : (x ?? y));
  }
  return out;
}

const SAME_SHAPE = new Set([
  'Identity', 'Cast', 'CastLike', 'Sigmoid', 'Erf', 'Exp', 'Log', 'Sqrt', 'Sin', 'Cos', 'Tanh', 'Relu', 'Neg', 'Abs', 'Softmax',
  'InstanceNormalization', 'LayerNormalization', 'Not', 'Reciprocal', 'Gelu', 'Dropout',
]);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Equal', 'Less', 'Greater', 'And', 'Or', 'Max', 'Min']);
/** Int tensors with at most this many elements are evaluated (shape vectors, indices). */
const MAX_VALUE_ELEMENTS = 64;

export class ShapeInference {
  private readonly shapes = new Map<string, SymShape>();
  private readonly values = new Map<string, SymShape>();

  constructor(private readonly graph: GraphProto, file = 'graph') {
    for (const input of graph.input) {
      const dims = input.type?.tensorType?.shape?.dim;
      if (dims) this.shapes.set(input.name, dims.map((d) => (d.dimValue !== undefined ? num(d.dimValue) : d.dimParam ? sym(d.dimParam) : undefined)));
    }
    for (const t of graph.initializer) if (t.name) this.setTensor(t.name, t);
    for (const node of topologicalOrder(graph, file)) {
      try {
        this.infer(node);
      } catch {
        // An op this inference does not model: its outputs stay unknown.
      }
    }
    for (const info of graph.valueInfo ?? []) {
      const dims = info.type?.tensorType?.shape?.dim;
      if (dims && !this.shapes.has(info.name))
        this.shapes.set(info.name, dims.map((d) => (d.dimValue !== undefined ? num(d.dimValue) : d.dimParam ? sym(d.dimParam) : undefined)));
    }
  }

  shape(tensor: string): SymShape | undefined {
    return this.shapes.get(tensor);
  }

  /** The elements of a small integer tensor, when they can be told. */
  value(tensor: string): SymShape | undefined {
    return this.values.get(tensor);
  }

  private setTensor(name: string, t: TensorProto): void {
    this.shapes.set(name, (t.dims ?? []).map(num));
    const isInt = t.dataType === TensorDataType.INT64 || t.dataType === TensorDataType.INT32;
    const count = (t.dims ?? []).reduce((a, b) => a * b, 1);
    if (isInt && count <= MAX_VALUE_ELEMENTS && t.dataLocation !== 1 && dataTypeInfo(t.dataType) !== undefined) {
      const array = tensorToArray(t);
      this.values.set(name, Array.from(array as ArrayLike<number | bigint>, (v) => num(Number(v))));
    }
  }

  private set(node: NodeProto, shape: SymShape | undefined, value?: SymShape, index = 0): void {
    const name = node.output[index];
    if (name === undefined || name === '') return;
    if (shape !== undefined) this.shapes.set(name, shape);
    if (value !== undefined && value.length <= MAX_VALUE_ELEMENTS) this.values.set(name, value);
  }

  private infer(node: NodeProto): void {
    const s = (i: number): SymShape | undefined => (node.input[i] ? this.shapes.get(node.input[i]) : undefined);
    const v = (i: number): SymShape | undefined => (node.input[i] ? this.values.get(node.input[i]) : undefined);
    const op = node.domain && node.domain !== 'ai.onnx' ? '' : node.opType;
    const x = s(0);

    if (SAME_SHAPE.has(op)) return this.set(node, x, op === 'Cast' || op === 'Identity' ? v(0) : undefined);
    if (ELEMENTWISE.has(op)) {
      const shapes = node.input.map((_, i) => s(i));
      const known = shapes.filter((t): t is SymShape => t !== undefined);
      // An operand of unknown shape: assume it matches (UNet residual adds), so take the others' broadcast.
      const shape = known.length === 0 ? undefined : known.reduce((a, b) => broadcast(a, b));
      let value: SymShape | undefined;
      const [va, vb] = [v(0), v(1)];
      if (va && vb && (op === 'Mul' || op === 'Div' || op === 'Add' || op === 'Sub')) {
        const n = Math.max(va.length, vb.length);
        value = Array.from({ length: n }, (_, i) => {
          const a = va[va.length === 1 ? 0 : i];
          const b = vb[vb.length === 1 ? 0 : i];
          if (op === 'Mul') return mulDim(a, b);
          if (op === 'Add') return addDim(a, b);
          if (op === 'Sub') return addDim(a, b, -1);
          const q = divDim(a, b);
          return isNumber(q) ? num(Math.floor(q.coef)) : q;
        });
      }
      return this.set(node, shape, value);
    }
    switch (op) {
      case 'Constant': {
        const a = node.attribute?.[0];
        if (a?.type === AttributeType.TENSOR && a.t) {
          this.setTensor(node.output[0], a.t);
          return;
        }
        if (a?.type === AttributeType.INT && a.i !== undefined) return this.set(node, [], [num(a.i)]);
        if (a?.type === AttributeType.INTS && a.ints) return this.set(node, [num(a.ints.length)], a.ints.map(num));
        return;
      }
      case 'Shape': {
        if (!x) return;
        const start = normalizeAxis(intAttr(node, 'start', 0), x.length);
        const endAttr = attribute(node, 'end');
        const end = endAttr ? normalizeAxis(endAttr.i ?? x.length, x.length) : x.length;
        const dims = x.slice(start, end);
        return this.set(node, [num(dims.length)], dims);
      }
      case 'Gather': {
        const indices = s(1);
        if (!x || !indices) return;
        const axis = normalizeAxis(intAttr(node, 'axis', 0), x.length);
        const shape = [...x.slice(0, axis), ...indices, ...x.slice(axis + 1)];
        const data = v(0);
        const idx = v(1);
        const value = data && idx && axis === 0 ? idx.map((i) => (isNumber(i) ? data[normalizeAxis(i.coef, data.length)] : undefined)) : undefined;
        return this.set(node, shape, value);
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        if (!x) return;
        const axesValue = intsAttr(node, 'axes') ?? v(1)?.map((d) => (isNumber(d) ? d.coef : NaN));
        if (axesValue === undefined) {
          if (op === 'Squeeze') return this.set(node, x.filter((d) => !(isNumber(d) && d.coef === 1)), v(0));
          return;
        }
        if (axesValue.some((a) => Number.isNaN(a))) return;
        let shape: SymShape;
        if (op === 'Unsqueeze') {
          const rank = x.length + axesValue.length;
          const axes = new Set(axesValue.map((a) => normalizeAxis(a, rank)));
          shape = [];
          let j = 0;
          for (let i = 0; i < rank; i++) shape.push(axes.has(i) ? num(1) : x[j++]);
        } else {
          const axes = new Set(axesValue.map((a) => normalizeAxis(a, x.length)));
          shape = x.filter((_, i) => !axes.has(i));
        }
        return this.set(node, shape, v(0));
      }
      case 'Concat': {
        const shapes = node.input.map((_, i) => s(i));
        if (shapes.some((t) => t === undefined)) return;
        const all = shapes as SymShape[];
        const axis = normalizeAxis(intAttr(node, 'axis', 0), all[0].length);
        const shape = all[0].map((d, i) => (i === axis ? all.slice(1).reduce<SymDim>((acc, t) => addDim(acc, t[i]), d) : d));
        const values = node.input.map((_, i) => v(i));
        const value = values.every((t) => t !== undefined) && axis === 0 ? (values as SymShape[]).flat() : undefined;
        return this.set(node, shape, value);
      }
      case 'Reshape': {
        const target = v(1);
        if (!target) return;
        const allowZero = intAttr(node, 'allowzero', 0) === 1;
        const dims = target.map((d, i) => (!allowZero && isNumber(d) && d.coef === 0 ? x?.[i] : d));
        const unknownAt = dims.findIndex((d) => isNumber(d) && d.coef === -1);
        if (unknownAt >= 0) {
          const total = x?.reduce<SymDim>((acc, d) => mulDim(acc, d), num(1));
          const rest = dims.reduce<SymDim>((acc, d, i) => (i === unknownAt ? acc : mulDim(acc, d)), num(1));
          dims[unknownAt] = divDim(total, rest);
        }
        return this.set(node, dims, v(0) && dims.length === 1 ? v(0) : undefined);
      }
      case 'Transpose': {
        if (!x) return;
        const perm = intsAttr(node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
        return this.set(node, perm.map((p) => x[p]));
      }
      case 'Expand': {
        const target = v(1);
        if (!x || !target) return;
        return this.set(node, broadcast(x, target, true));
      }
      case 'Conv': {
        const w = s(1);
        if (!x || !w) return;
        const spatial = x.length - 2;
        const kernel = intsAttr(node, 'kernel_shape') ?? w.slice(2).map((d) => (isNumber(d) ? d.coef : NaN));
        const strides = intsAttr(node, 'strides') ?? new Array<number>(spatial).fill(1);
        const dilations = intsAttr(node, 'dilations') ?? new Array<number>(spatial).fill(1);
        const pads = intsAttr(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
        if (attribute(node, 'auto_pad') && new TextDecoder().decode(attribute(node, 'auto_pad')!.s) !== 'NOTSET') return;
        const out: SymShape = [x[0], w[0]];
        for (let i = 0; i < spatial; i++) {
          const d = x[i + 2];
          const extra = pads[i] + pads[i + spatial] - dilations[i] * (kernel[i] - 1) - 1;
          if (isNumber(d)) out.push(num(convOutputLength(d.coef, kernel[i], strides[i], dilations[i], pads[i], pads[i + spatial])));
          // floor((n + extra) / s) + 1 == n / s exactly when -s <= extra < 0 and s divides n (SD sizes are multiples of 8).
          else if (d !== undefined && extra < 0 && extra >= -strides[i]) out.push(divDim(d, num(strides[i])));
          else out.push(undefined);
        }
        return this.set(node, out);
      }
      case 'Gemm': {
        const b = s(1);
        if (!x || !b) return;
        const m = intAttr(node, 'transA', 0) ? x[1] : x[0];
        const n = intAttr(node, 'transB', 0) ? b[0] : b[1];
        return this.set(node, [m, n]);
      }
      case 'MatMul': {
        const b = s(1);
        if (!x || !b || x.length < 2 || b.length < 2) return;
        const batch = broadcast(x.slice(0, -2), b.slice(0, -2));
        return this.set(node, [...batch, x[x.length - 2], b[b.length - 1]]);
      }
      case 'Slice': {
        if (!x) return;
        const [starts, ends, axesV, steps] = [v(1), v(2), v(3), v(4)];
        if (!starts || !ends) return;
        const axes = axesV ?? starts.map((_, i) => num(i));
        const out = [...x];
        const data = v(0);
        let value: SymShape | undefined;
        for (let i = 0; i < starts.length; i++) {
          const [st, en, ax, sp] = [starts[i], ends[i], axes[i], steps?.[i] ?? num(1)];
          if (!isNumber(st) || !isNumber(en) || !isNumber(ax) || !isNumber(sp)) return;
          const axis = normalizeAxis(ax.coef, x.length);
          const d = x[axis];
          if (isNumber(d)) {
            const clamp = (p: number) => Math.min(Math.max(p < 0 ? p + d.coef : p, 0), d.coef);
            const [a, b] = [clamp(st.coef), clamp(en.coef)];
            out[axis] = sp.coef > 0 ? num(Math.max(0, Math.ceil((b - a) / sp.coef))) : undefined;
            if (data && axis === 0 && sp.coef === 1) value = data.slice(a, b);
          } else out[axis] = st.coef === 0 && en.coef >= 2 ** 31 - 1 && sp.coef === 1 ? d : undefined;
        }
        return this.set(node, out, value);
      }
      case 'Resize':
      case 'Upsample': {
        if (!x) return;
        const scales = op === 'Upsample' ? this.floatValues(node.input[1]) : this.floatValues(node.input[2]);
        const sizes = op === 'Resize' ? v(3) : undefined;
        if (sizes && sizes.length === x.length) return this.set(node, sizes);
        if (!scales || scales.length !== x.length) return;
        return this.set(
          node,
          x.map((d, i) => (scales[i] === 1 ? d : isNumber(d) ? num(Math.floor(d.coef * scales[i])) : mulDim(d, num(scales[i])))),
        );
      }
      case 'ReduceMean':
      case 'ReduceSum': {
        if (!x) return;
        const axes = intsAttr(node, 'axes') ?? v(1)?.map((d) => (isNumber(d) ? d.coef : NaN));
        if (!axes || axes.some((a) => Number.isNaN(a))) return;
        const keep = intAttr(node, 'keepdims', 1) === 1;
        const set = new Set(axes.map((a) => normalizeAxis(a, x.length)));
        return this.set(node, keep ? x.map((d, i) => (set.has(i) ? num(1) : d)) : x.filter((_, i) => !set.has(i)));
      }
      case 'ConstantOfShape':
        return this.set(node, v(0));
      default:
        return;
    }
  }

  /** Values of a small float constant (Resize scales), from an initializer or Constant node. */
  private floatValues(name: string | undefined): number[] | undefined {
    if (!name) return undefined;
    const init = this.graph.initializer.find((t) => t.name === name);
    const node = init ? undefined : this.graph.node.find((n) => n.opType === 'Constant' && n.output[0] === name);
    const tensor = init ?? node?.attribute?.[0]?.t;
    if (!tensor || tensor.dataLocation === 1) return undefined;
    try {
      return Array.from(tensorToArray(tensor) as ArrayLike<number>, Number);
    } catch {
      return undefined;
    }
  }
}

export function isNumberDim(d: SymDim): d is Monomial {
  return isNumber(d);
}
