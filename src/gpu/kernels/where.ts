import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { broadcastLayout, broadcastShapes, broadcastUniforms } from './broadcast.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import broadcastWgsl from './broadcast.wgsl?raw';
import whereWgsl from './where.wgsl?raw';

const kernel: KernelSource = { name: 'where', wgsl: broadcastWgsl + whereWgsl };

/**
 * out = cond ? a : b elementwise with numpy broadcasting of all three (as ONNX Where).
 * `cond` is an i32 or u32 tensor (ONNX bool after upload); any nonzero value is true.
 */
export function where(ctx: GpuContext, cond: GpuTensor, a: GpuTensor, b: GpuTensor, options: { out?: GpuTensor } = {}): GpuTensor {
  if (cond.dtype !== 'i32' && cond.dtype !== 'u32') throw new ShapeError(`where: cond [${cond.shape}] must be i32 or u32, got ${cond.dtype}`);
  const dtype = floatDtype('where', a, b);
  const shape = broadcastShapes('where', cond.shape, a.shape, b.shape);
  const layout = broadcastLayout('where', shape, [cond.shape, a.shape, b.shape]);
  const out = outputTensor(ctx, 'where', shape, dtype, [cond, a, b], options.out);
  ctx.dispatch({
    kernel,
    dtype,
    tensors: [cond, a, b, out],
    uniforms: broadcastUniforms(layout, out.size),
    workgroups: flatGrid(Math.ceil(out.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
