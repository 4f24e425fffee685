import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype } from './checks.ts';
import { flatGrid } from './grid.ts';
import copyWgsl from './strided-copy.wgsl?raw';
import fillWgsl from './fill.wgsl?raw';

const copyKernel: KernelSource = { name: 'strided-copy', wgsl: copyWgsl };
const fillKernel: KernelSource = { name: 'fill', wgsl: fillWgsl };
const MAX_RANK = 8;

/** Row-major element strides of a dense shape. */
export function denseStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

export interface StridedCopy {
  /** Iteration shape (outermost first). */
  shape: readonly number[];
  srcStrides: readonly number[];
  dstStrides: readonly number[];
  srcOffset?: number;
  dstOffset?: number;
  /** Multiplies every copied value (default 1). */
  alpha?: number;
}

/**
 * Copies a strided window of `src` into a strided window of `dst` (see strided-copy.wgsl).
 * Elements of `dst` outside the window keep their contents; the caller ensures the window
 * stays inside both buffers and that dst strides never write one element twice.
 */
export function stridedCopy(ctx: GpuContext, src: GpuTensor, dst: GpuTensor, copy: StridedCopy): void {
  const dtype = floatDtype('stridedCopy', src, dst);
  if (src.buffer === dst.buffer) throw new ShapeError('stridedCopy: source and destination share a buffer');
  const { shape } = copy;
  if (copy.srcStrides.length !== shape.length || copy.dstStrides.length !== shape.length) throw new ShapeError(`stridedCopy: strides for ${shape.length} axes expected`);
  // Innermost first, size-1 axes dropped, neighbours merged when both sides walk them contiguously.
  const sizes: number[] = [];
  const srcStrides: number[] = [];
  const dstStrides: number[] = [];
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = sizes.length - 1;
    if (last >= 0 && copy.srcStrides[axis] === srcStrides[last] * sizes[last] && copy.dstStrides[axis] === dstStrides[last] * sizes[last]) {
      sizes[last] *= size;
    } else {
      sizes.push(size);
      srcStrides.push(copy.srcStrides[axis]);
      dstStrides.push(copy.dstStrides[axis]);
    }
  }
  if (sizes.length > MAX_RANK) throw new ShapeError(`stridedCopy: [${shape}] needs ${sizes.length} axes after merging, over the kernel's ${MAX_RANK}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count === 0) return;
  const uniforms = new Uniforms();
  for (let i = 0; i < MAX_RANK; i++) uniforms.u32(sizes[i] ?? 1);
  for (let i = 0; i < MAX_RANK; i++) uniforms.i32(srcStrides[i] ?? 0);
  for (let i = 0; i < MAX_RANK; i++) uniforms.i32(dstStrides[i] ?? 0);
  uniforms.u32(count).u32(sizes.length).i32(copy.srcOffset ?? 0).i32(copy.dstOffset ?? 0).f32(copy.alpha ?? 1);
  ctx.dispatch({ kernel: copyKernel, dtype, tensors: [src, dst], uniforms: uniforms.finish(), workgroups: flatGrid(Math.ceil(count / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension) });
}

/** Sets every element of `tensor` to `value`. */
export function fill(ctx: GpuContext, tensor: GpuTensor, value: number): GpuTensor {
  const dtype = floatDtype('fill', tensor);
  ctx.dispatch({
    kernel: fillKernel,
    dtype,
    tensors: [tensor],
    uniforms: new Uniforms().u32(tensor.size).f32(value).finish(),
    workgroups: flatGrid(Math.ceil(tensor.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return tensor;
}

export function zeros(ctx: GpuContext, shape: readonly number[], dtype: 'f32' | 'f16' = 'f32'): GpuTensor {
  return fill(ctx, ctx.empty(shape, dtype), 0);
}

/** ONNX Transpose: out axis i is input axis perm[i]. */
export function transpose(ctx: GpuContext, x: GpuTensor, perm: readonly number[]): GpuTensor {
  const rank = x.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ShapeError(`transpose: perm [${perm}] is not a permutation of ${rank} axes`);
  const strides = denseStrides(x.shape);
  const shape = perm.map((p) => x.shape[p]);
  const out = ctx.empty(shape, x.dtype === 'f16' ? 'f16' : 'f32');
  stridedCopy(ctx, x, out, { shape, srcStrides: perm.map((p) => strides[p]), dstStrides: denseStrides(shape) });
  return out;
}

/** Broadcasts x (numpy rules) to `shape`, times alpha. */
export function expandTo(ctx: GpuContext, x: GpuTensor, shape: readonly number[], alpha = 1): GpuTensor {
  const rank = shape.length;
  if (x.shape.length > rank) throw new ShapeError(`expandTo: [${x.shape}] has more axes than [${shape}]`);
  const xStrides = denseStrides(x.shape);
  const srcStrides = shape.map((size, axis) => {
    const k = axis - (rank - x.shape.length);
    if (k < 0) return 0;
    const dim = x.shape[k];
    if (dim !== 1 && dim !== size) throw new ShapeError(`expandTo: [${x.shape}] does not broadcast to [${shape}]`);
    return dim === 1 ? 0 : xStrides[k];
  });
  const out = ctx.empty(shape, x.dtype === 'f16' ? 'f16' : 'f32');
  stridedCopy(ctx, x, out, { shape, srcStrides, dstStrides: denseStrides(shape), alpha });
  return out;
}
