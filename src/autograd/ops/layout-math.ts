/**
 * Index arithmetic shared by the GPU layout ops and the CPU folding of the same ops: each
 * result is a strided view (offset, per-axis strides and divisors) of a row-major input.
 */
import { ShapeError } from '../../util/errors.ts';
import { contiguousStrides } from '../../gpu/kernels/layout-copy.ts';
import { normalizeAxisAt } from './prepare-helpers.ts';

export interface StridedView {
  shape: number[];
  offset: number;
  strides: number[];
  divisors?: number[];
}

/** Per-axis normalized Slice: `starts` are first indices, `ends` exclusive as ONNX clamps them. */
export interface SliceParams {
  axes: number[];
  starts: number[];
  ends: number[];
  steps: number[];
  shape: number[];
}

/** ONNX Slice semantics (negative indices, clamping, negative steps) resolved per axis. */
export function resolveSlice(
  label: string,
  shape: readonly number[],
  starts: readonly number[],
  ends: readonly number[],
  axesIn?: readonly number[],
  stepsIn?: readonly number[],
): SliceParams {
  const rank = shape.length;
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => normalizeAxisAt(label, a, rank));
  const steps = stepsIn ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    throw new ShapeError(`${label}: starts, ends, axes and steps differ in length`);
  if (new Set(axes).size !== axes.length) throw new ShapeError(`${label}: repeated axis in [${axes}]`);
  const out = { axes: [] as number[], starts: [] as number[], ends: [] as number[], steps: [] as number[], shape: [...shape] };
  axes.forEach((axis, i) => {
    const dim = shape[axis];
    const step = steps[i];
    if (!Number.isInteger(step) || step === 0) throw new ShapeError(`${label}: step ${step} on axis ${axis} must be a nonzero integer`);
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    let end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    const count = step > 0 ? Math.max(0, Math.ceil((end - start) / step)) : Math.max(0, Math.ceil((start - end) / -step));
    out.axes.push(axis);
    out.starts.push(start);
    out.ends.push(end);
    out.steps.push(step);
    out.shape[axis] = count;
  });
  return out;
}

export function sliceView(inShape: readonly number[], slice: SliceParams): StridedView {
  const strides = contiguousStrides(inShape);
  let offset = 0;
  const viewStrides = [...strides];
  slice.axes.forEach((axis, i) => {
    if (slice.shape[axis] > 0) offset += slice.starts[i] * strides[axis];
    viewStrides[axis] = strides[axis] * slice.steps[i];
  });
  return { shape: slice.shape, offset, strides: viewStrides };
}

export function transposeView(inShape: readonly number[], perm: readonly number[]): StridedView {
  const strides = contiguousStrides(inShape);
  return { shape: perm.map((p) => inShape[p]), offset: 0, strides: perm.map((p) => strides[p]) };
}

/** numpy-broadcast `inShape` to `outShape` (stride 0 on broadcast axes). */
export function expandView(label: string, inShape: readonly number[], outShape: readonly number[]): StridedView {
  const strides = contiguousStrides(inShape);
  const rank = outShape.length;
  const viewStrides = outShape.map((dim, axis) => {
    const inAxis = axis - (rank - inShape.length);
    if (inAxis < 0) return 0;
    const inDim = inShape[inAxis];
    if (inDim === dim) return strides[inAxis];
    if (inDim === 1) return 0;
    throw new ShapeError(`${label}: [${inShape}] does not broadcast to [${outShape}]`);
  });
  return { shape: [...outShape], offset: 0, strides: viewStrides };
}

/** Output shape of Expand: broadcast of the input with the requested shape. */
export function expandShape(label: string, inShape: readonly number[], requested: readonly number[]): number[] {
  const rank = Math.max(inShape.length, requested.length);
  const out: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const a = inShape[axis - (rank - inShape.length)] ?? 1;
    const b = requested[axis - (rank - requested.length)] ?? 1;
    if (a !== b && a !== 1 && b !== 1) throw new ShapeError(`${label}: [${inShape}] cannot expand to [${requested}]`);
    out.push(a === 1 ? b : a);
  }
  return out;
}

/** Reads a strided view of a row-major CPU array into a new contiguous array. */
export function readView(data: Float64Array, view: StridedView): Float64Array {
  const count = view.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(count);
  const rank = view.shape.length;
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < count; i++) {
    let offset = view.offset;
    for (let d = 0; d < rank; d++) offset += Math.floor(coord[d] / (view.divisors?.[d] ?? 1)) * view.strides[d];
    out[i] = data[offset];
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < view.shape[d]) break;
      coord[d] = 0;
    }
  }
  return out;
}

/** ONNX Reshape target (0 copies the input dim unless allowzero, one -1 inferred). */
export function reshapeTarget(label: string, inShape: readonly number[], requested: readonly number[], allowZero: boolean): number[] {
  const size = inShape.reduce((a, b) => a * b, 1);
  const out = requested.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1 || out.some((d) => d === undefined || d < -1 || !Number.isInteger(d)))
    throw new ShapeError(`${label}: invalid target shape [${requested}] for [${inShape}]`);
  if (unknown === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || size % known !== 0) throw new ShapeError(`${label}: cannot reshape [${inShape}] to [${requested}]`);
    out[out.indexOf(-1)] = size / known;
  }
  if (out.reduce((a, b) => a * b, 1) !== size) throw new ShapeError(`${label}: cannot reshape [${inShape}] (${size} elements) to [${requested}]`);
  return out;
}

/** Unsqueeze: output shape with size-1 axes inserted at `axes` (of the output rank). */
export function unsqueezeShape(label: string, inShape: readonly number[], axes: readonly number[]): number[] {
  const rank = inShape.length + axes.length;
  const inserted = new Set(axes.map((a) => normalizeAxisAt(label, a, rank)));
  if (inserted.size !== axes.length) throw new ShapeError(`${label}: repeated axis in [${axes}]`);
  const out: number[] = [];
  let next = 0;
  for (let axis = 0; axis < rank; axis++) out.push(inserted.has(axis) ? 1 : inShape[next++]);
  return out;
}

/** Squeeze: drops `axes` (all size-1 axes when absent); each must have size 1. */
export function squeezeShape(label: string, inShape: readonly number[], axes?: readonly number[]): number[] {
  if (!axes) return inShape.filter((d) => d !== 1);
  const dropped = new Set(axes.map((a) => normalizeAxisAt(label, a, inShape.length)));
  for (const axis of dropped) if (inShape[axis] !== 1) throw new ShapeError(`${label}: axis ${axis} of [${inShape}] is not 1`);
  return inShape.filter((_, axis) => !dropped.has(axis));
}
