import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import { REDUCTION_WORKGROUP_SIZE, reductionStrategy, splitAroundAxes, type ReductionStrategy } from './reduction-plan.ts';
import wgsl from './reduce.wgsl?raw';

const kernel: KernelSource = { name: 'reduce', wgsl };

/** Codes of the `OP` define in reduce.wgsl. */
const REDUCE_OPS = { sum: 0, mean: 1, max: 2, min: 3, sumSquares: 4 } as const;
export type ReduceOp = keyof typeof REDUCE_OPS;
export const REDUCE_OP_NAMES = Object.keys(REDUCE_OPS) as ReduceOp[];

export interface ReduceOptions {
  /** One axis or a run of adjacent axes (negative counts from the end). Default: -1. */
  axis?: number | readonly number[];
  /** Keep reduced axes as size 1 (ONNX keepdims=1). Default: false. */
  keepdims?: boolean;
  /** Force a strategy (tests); by default picked from the shape. */
  strategy?: ReductionStrategy;
  out?: GpuTensor;
}

/** Reduces along one axis (or adjacent axes) with sum, mean, max, min or sum of squares. */
export function reduce(ctx: GpuContext, op: ReduceOp, x: GpuTensor, options: ReduceOptions = {}): GpuTensor {
  if (!Object.hasOwn(REDUCE_OPS, op)) throw new RangeError(`reduce: unknown op "${op}" (expected one of ${REDUCE_OP_NAMES.join(', ')})`);
  const name = `reduce ${op}`;
  const dtype = floatDtype(name, x);
  const split = splitAroundAxes(name, x.shape, options.axis ?? -1);
  const shape = x.shape.flatMap((dim, axis) => (split.axes.includes(axis) ? (options.keepdims ? [1] : []) : [dim]));
  const out = outputTensor(ctx, name, shape, dtype, [x], options.out);
  const strategy = options.strategy ?? reductionStrategy(split);
  const size = REDUCTION_WORKGROUP_SIZE[strategy];
  const outputs = split.outer * split.inner;
  const groups = strategy === 'thread' ? Math.ceil(outputs / size) : outputs;
  ctx.dispatch({
    kernel,
    dtype,
    defines: { OP: REDUCE_OPS[op], WG: size, PER_THREAD: strategy === 'thread' ? 1 : 0 },
    tensors: [x, out],
    uniforms: new Uniforms().u32(split.outer).u32(split.n).u32(split.inner).f32(1 / split.n).finish(),
    workgroups: flatGrid(groups, ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
