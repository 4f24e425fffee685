import type { GpuContext } from '../context.ts';
import type { GpuTensor } from '../tensor.ts';
import { ShapeError } from '../../util/errors.ts';

export type FloatDtype = 'f32' | 'f16';

/** The shared float storage type of a kernel's operands; mixed or integer dtypes are an error. */
export function floatDtype(op: string, ...tensors: GpuTensor[]): FloatDtype {
  const dtype = tensors[0].dtype;
  if ((dtype !== 'f32' && dtype !== 'f16') || tensors.some((t) => t.dtype !== dtype)) {
    throw new ShapeError(`${op}: operands must share a float dtype, got ${tensors.map((t) => `[${t.shape}] ${t.dtype}`).join(', ')}`);
  }
  return dtype;
}

/**
 * A new output tensor, or the caller's `out` after checking it fits. `out` may not share a
 * buffer with an input: WebGPU forbids binding one buffer as both read-only and writable.
 */
export function outputTensor(ctx: GpuContext, op: string, shape: readonly number[], dtype: FloatDtype, inputs: GpuTensor[], out?: GpuTensor): GpuTensor {
  if (!out) return ctx.empty(shape, dtype);
  const size = shape.reduce((a, b) => a * b, 1);
  if (out.size !== size || out.dtype !== dtype) throw new ShapeError(`${op}: out tensor [${out.shape}] ${out.dtype} does not fit [${shape}] ${dtype}`);
  if (inputs.some((input) => input.buffer === out.buffer)) throw new ShapeError(`${op}: out tensor [${out.shape}] shares its buffer with an input; in-place kernels are not supported`);
  return out;
}

/** An axis in [-rank, rank) as a non-negative index. */
export function normalizeAxis(op: string, axis: number, shape: readonly number[]): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new ShapeError(`${op}: axis ${axis} is out of range for shape [${shape}]`);
  return axis < 0 ? axis + rank : axis;
}

export function product(dims: readonly number[]): number {
  return dims.reduce((acc, d) => acc * d, 1);
}
