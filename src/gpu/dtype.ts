/** Element types of GPU tensors. f16 is storage only: kernels compute in f32. */
export type GpuDtype = 'f32' | 'f16' | 'i32' | 'u32';

export const BYTES_PER_ELEMENT: Record<GpuDtype, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`invalid dimension ${dim} in shape [${shape}]`);
    count *= dim;
  }
  return count;
}
