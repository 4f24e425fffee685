import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { flatGrid } from './grid.ts';
import wgsl from './widen-half.wgsl?raw';

const kernel: KernelSource = { name: 'widen-half', wgsl };

/** A new f32 tensor with the values of an f16 one (exact: every binary16 value is an f32). */
export function widenHalf(ctx: GpuContext, source: GpuTensor): GpuTensor {
  if (source.dtype !== 'f16') throw new ShapeError(`widenHalf: expected an f16 tensor, got [${source.shape}] ${source.dtype}`);
  const out = ctx.empty(source.shape, 'f32');
  ctx.dispatch({
    kernel,
    // f32 pipeline: the source is read as u32 words, so the adapter needs no shader-f16.
    dtype: 'f32',
    tensors: [source, out],
    uniforms: new Uniforms().u32(source.size).finish(),
    workgroups: flatGrid(Math.ceil(source.size / 2 / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
