import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import { REDUCTION_WORKGROUP_SIZE, reductionStrategy, splitAroundAxes, type ReductionStrategy } from './reduction-plan.ts';
import wgsl from './softmax.wgsl?raw';

const kernel: KernelSource = { name: 'softmax', wgsl };

export interface SoftmaxOptions {
  /** Default: -1 (ONNX opset >= 13 semantics: along this one axis). */
  axis?: number;
  /** Force a strategy (tests); by default picked from the shape. */
  strategy?: ReductionStrategy;
  out?: GpuTensor;
}

/** exp(x - max) / sum(exp(x - max)) along one axis. */
export function softmax(ctx: GpuContext, x: GpuTensor, options: SoftmaxOptions = {}): GpuTensor {
  const dtype = floatDtype('softmax', x);
  const split = splitAroundAxes('softmax', x.shape, options.axis ?? -1);
  const out = outputTensor(ctx, 'softmax', x.shape, dtype, [x], options.out);
  const strategy = options.strategy ?? reductionStrategy(split);
  const size = REDUCTION_WORKGROUP_SIZE[strategy];
  const rows = split.outer * split.inner;
  const groups = strategy === 'thread' ? Math.ceil(rows / size) : rows;
  ctx.dispatch({
    kernel,
    dtype,
    defines: { WG: size, PER_THREAD: strategy === 'thread' ? 1 : 0 },
    tensors: [x, out],
    uniforms: new Uniforms().u32(split.outer).u32(split.n).u32(split.inner).finish(),
    workgroups: flatGrid(groups, ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
