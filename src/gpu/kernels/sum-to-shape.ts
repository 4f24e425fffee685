import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype } from './checks.ts';
import { flatGrid } from './grid.ts';
import { contiguousStrides } from './layout-copy.ts';
import wgsl from './sum-to-shape.wgsl?raw';

const kernel: KernelSource = { name: 'sum-to-shape', wgsl };
const MAX_RANK = 8;

/**
 * Sums x down to `shape`, which must broadcast to x's shape: the gradient of an operand that
 * numpy broadcasting stretched. Returns a new tensor of `shape` (a copy when nothing is summed).
 */
export function sumToShape(ctx: GpuContext, x: GpuTensor, shape: readonly number[]): GpuTensor {
  const dtype = floatDtype('sumToShape', x);
  const rank = x.shape.length;
  if (shape.length > rank) throw new ShapeError(`sumToShape: target [${shape}] has more axes than [${x.shape}]`);
  const strides = contiguousStrides(x.shape);
  const kept: [number, number][] = [];
  const summed: [number, number][] = [];
  // Innermost first, merging neighbours of the same kind that are contiguous in x.
  const push = (list: [number, number][], size: number, stride: number): void => {
    const last = list[list.length - 1];
    if (last && stride === last[1] * last[0]) last[0] *= size;
    else list.push([size, stride]);
  };
  let lastKind: 'kept' | 'summed' | null = null;
  for (let axis = rank - 1; axis >= 0; axis--) {
    const size = x.shape[axis];
    const k = axis - (rank - shape.length);
    const target = k < 0 ? 1 : shape[k];
    if (target !== 1 && target !== size) throw new ShapeError(`sumToShape: [${shape}] does not broadcast to [${x.shape}]`);
    if (size === 1) continue;
    const kind = target === 1 ? 'summed' : 'kept';
    const list = kind === 'kept' ? kept : summed;
    if (kind === lastKind) push(list, size, strides[axis]);
    else list.push([size, strides[axis]]);
    lastKind = kind;
  }
  if (kept.length > MAX_RANK || summed.length > MAX_RANK) throw new ShapeError(`sumToShape: [${x.shape}] -> [${shape}] interleaves more than ${MAX_RANK} axis runs`);
  const out = ctx.empty(shape, dtype);
  const count = out.size;
  const sumCount = summed.reduce((acc, [size]) => acc * size, 1);
  const uniforms = new Uniforms();
  for (const [list, field] of [[kept, 0], [kept, 1], [summed, 0], [summed, 1]] as const) {
    for (let i = 0; i < MAX_RANK; i++) uniforms.u32(list[i]?.[field] ?? (field === 0 ? 1 : 0));
  }
  uniforms.u32(count).u32(kept.length).u32(summed.length).u32(sumCount);
  ctx.dispatch({ kernel, dtype, tensors: [x, out], uniforms: uniforms.finish(), workgroups: flatGrid(Math.ceil(count / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension) });
  return out;
}
