import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { floatDtype } from './checks.ts';
import { flatGrid } from './grid.ts';
import wgsl from './fill.wgsl?raw';

const kernel: KernelSource = { name: 'fill', wgsl };

/** Sets every element of `tensor` to `value`. */
export function fill(ctx: GpuContext, tensor: GpuTensor, value: number): GpuTensor {
  const dtype = floatDtype('fill', tensor);
  ctx.dispatch({
    kernel,
    dtype,
    tensors: [tensor],
    uniforms: new Uniforms().u32(tensor.size).f32(value).finish(),
    workgroups: flatGrid(Math.ceil(tensor.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return tensor;
}

/** A new tensor of zeros (pooled buffers hold stale data, so gradients start from this). */
export function zeros(ctx: GpuContext, shape: readonly number[], dtype: 'f32' | 'f16' = 'f32'): GpuTensor {
  return fill(ctx, ctx.empty(shape, dtype), 0);
}
