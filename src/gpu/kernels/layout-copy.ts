import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { product } from './checks.ts';
import { flatGrid } from './grid.ts';
import wgsl from './layout-copy.wgsl?raw';

// 4-byte elements move as u32 words, so that integer data and any f32 bit pattern (denormals
// included, which a float load may flush) arrive unchanged; f16 moves as f16.
const halfKernel: KernelSource = { name: 'layout-copy', wgsl };
const wordKernel: KernelSource = { name: 'layout-copy-words', wgsl: wgsl.replaceAll('array<Elem>', 'array<u32>') };

/** Axes the kernel addresses after merging (see layout-copy.wgsl). */
export const MAX_LAYOUT_COPY_RANK = 8;

/**
 * One strided copy, axes outermost first as in a shape:
 * dst[outOffset + Σ c·outStrides] = src[inOffset + Σ ⌊c / divisors⌋·inStrides] for c in `shape`.
 */
export interface CopyLayout {
  shape: readonly number[];
  inStrides: readonly number[];
  inOffset?: number;
  /** Default: 1 on every axis. */
  divisors?: readonly number[];
  /** Default: contiguous in `shape`. Signed, as inStrides. */
  outStrides?: readonly number[];
  outOffset?: number;
}

/** Row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/**
 * Copies elements of `src` into `dst` (same dtype, any float or integer type: values are moved,
 * not converted) along `layout`. Axes of size 1 are dropped and neighbours merged where both
 * sides walk them contiguously, so Transpose, Slice, Expand, Concat and Resize of any rank fit.
 */
export function layoutCopy(ctx: GpuContext, src: GpuTensor, dst: GpuTensor, layout: CopyLayout): void {
  if (src.dtype !== dst.dtype) throw new ShapeError(`layoutCopy: ${src.dtype} source into ${dst.dtype} destination`);
  if (src.buffer === dst.buffer) throw new ShapeError('layoutCopy: source and destination share a buffer');
  const rank = layout.shape.length;
  const divisors = layout.divisors ?? new Array<number>(rank).fill(1);
  const outStrides = layout.outStrides ?? contiguousStrides(layout.shape);
  if (layout.inStrides.length !== rank || divisors.length !== rank || outStrides.length !== rank) {
    throw new ShapeError(`layoutCopy: shape [${layout.shape}] with ${layout.inStrides.length} input strides, ${divisors.length} divisors, ${outStrides.length} output strides`);
  }
  const count = product(layout.shape);
  if (count === 0) return;
  const inOffset = layout.inOffset ?? 0;
  const outOffset = layout.outOffset ?? 0;
  checkBounds('source', src.size, inOffset, layout.shape.map((size, d) => Math.floor((size - 1) / divisors[d])), layout.inStrides);
  checkBounds('destination', dst.size, outOffset, layout.shape.map((size) => size - 1), outStrides);
  const merged = mergeAxes(layout.shape, layout.inStrides, divisors, outStrides);
  if (merged.shape.length > MAX_LAYOUT_COPY_RANK) throw new ShapeError(`layoutCopy: [${layout.shape}] needs ${merged.shape.length} axes after merging, over the kernel's ${MAX_LAYOUT_COPY_RANK}`);
  const uniforms = new Uniforms();
  const padded = (values: readonly number[], fill: number): number[] => Array.from({ length: 8 }, (_, i) => values[i] ?? fill);
  for (const v of padded(merged.shape, 1)) uniforms.u32(v);
  for (const v of padded(merged.divisors, 1)) uniforms.u32(v);
  for (const v of padded(merged.inStrides, 0)) uniforms.i32(v);
  for (const v of padded(merged.outStrides, 0)) uniforms.i32(v);
  uniforms.u32(count).u32(merged.shape.length).u32(inOffset).u32(outOffset);
  ctx.dispatch({
    kernel: src.dtype === 'f16' ? halfKernel : wordKernel,
    dtype: src.dtype,
    tensors: [src, dst],
    uniforms: uniforms.finish(),
    workgroups: flatGrid(Math.ceil(count / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Every address the copy touches lies inside the buffer (the kernel does not check). */
function checkBounds(side: string, size: number, offset: number, lastCoords: readonly number[], strides: readonly number[]): void {
  let low = offset;
  let high = offset;
  lastCoords.forEach((c, d) => {
    const reach = c * strides[d];
    if (reach < 0) low += reach;
    else high += reach;
  });
  if (low < 0 || high >= size) throw new ShapeError(`layoutCopy: ${side} addresses ${low}..${high} fall outside its ${size} elements`);
}

/** Innermost-first axes with size-1 axes dropped and contiguous neighbours merged. */
function mergeAxes(shape: readonly number[], inStrides: readonly number[], divisors: readonly number[], outStrides: readonly number[]) {
  const out = { shape: [] as number[], inStrides: [] as number[], divisors: [] as number[], outStrides: [] as number[] };
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = out.shape.length - 1;
    const mergeable =
      last >= 0 &&
      divisors[axis] === 1 &&
      out.divisors[last] === 1 &&
      inStrides[axis] === out.inStrides[last] * out.shape[last] &&
      outStrides[axis] === out.outStrides[last] * out.shape[last];
    if (mergeable) {
      out.shape[last] *= size;
    } else {
      out.shape.push(size);
      out.inStrides.push(inStrides[axis]);
      out.divisors.push(divisors[axis]);
      out.outStrides.push(outStrides[axis]);
    }
  }
  return out;
}

/** ONNX Transpose: out axis i is input axis perm[i]. Returns a new tensor. */
export function transpose(ctx: GpuContext, x: GpuTensor, perm: readonly number[]): GpuTensor {
  const rank = x.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ShapeError(`transpose: perm [${perm}] is not a permutation of ${rank} axes`);
  const strides = contiguousStrides(x.shape);
  const shape = perm.map((p) => x.shape[p]);
  const out = ctx.empty(shape, x.dtype);
  layoutCopy(ctx, x, out, { shape, inStrides: perm.map((p) => strides[p]) });
  return out;
}

/** Broadcasts x (numpy rules) to `shape`. Returns a new tensor. */
export function expandTo(ctx: GpuContext, x: GpuTensor, shape: readonly number[]): GpuTensor {
  const rank = shape.length;
  if (x.shape.length > rank) throw new ShapeError(`expandTo: [${x.shape}] has more axes than [${shape}]`);
  const xStrides = contiguousStrides(x.shape);
  const inStrides = shape.map((size, axis) => {
    const k = axis - (rank - x.shape.length);
    if (k < 0) return 0;
    const dim = x.shape[k];
    if (dim !== 1 && dim !== size) throw new ShapeError(`expandTo: [${x.shape}] does not broadcast to [${shape}]`);
    return dim === 1 ? 0 : xStrides[k];
  });
  const out = ctx.empty(shape, x.dtype);
  layoutCopy(ctx, x, out, { shape, inStrides });
  return out;
}
