import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import wgsl from './normalize.wgsl?raw';

const kernel: KernelSource = { name: 'normalize', wgsl };

/**
 * The layout shared by LayerNorm, GroupNorm and InstanceNorm: x is `rows` contiguous rows of
 * `n` elements, each normalized to zero mean and unit variance; element j of row r takes its
 * gamma/beta at index ((r % paramRows) * n + j) / paramDiv.
 */
export interface RowNormalization {
  rows: number;
  n: number;
  paramRows: number;
  paramDiv: number;
  /** Number of gamma / beta elements the layout addresses. */
  paramCount: number;
  gamma?: GpuTensor;
  beta?: GpuTensor;
  epsilon: number;
  out?: GpuTensor;
}

export function normalizeRows(ctx: GpuContext, name: string, x: GpuTensor, layout: RowNormalization): GpuTensor {
  const { gamma, beta } = layout;
  const dtype = floatDtype(name, x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : []));
  for (const [label, param] of [['gamma', gamma], ['beta', beta]] as const) {
    if (param && param.size !== layout.paramCount) throw new ShapeError(`${name}: ${label} [${param.shape}] must have ${layout.paramCount} elements for input [${x.shape}]`);
  }
  if (layout.n === 0) throw new ShapeError(`${name}: input [${x.shape}] normalizes over zero elements`);
  if (!(layout.epsilon >= 0) || !Number.isFinite(layout.epsilon)) throw new RangeError(`${name}: epsilon must be a finite number >= 0, got ${layout.epsilon}`);
  const out = outputTensor(ctx, name, x.shape, dtype, [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])], layout.out);
  const uniforms = new Uniforms()
    .u32(layout.rows)
    .u32(layout.n)
    .u32(layout.paramRows)
    .u32(layout.paramDiv)
    .f32(layout.epsilon)
    .u32(gamma ? 1 : 0)
    .u32(beta ? 1 : 0)
    .finish();
  // Absent parameters bind x in their place (read-only, never read): the pipeline layout
  // is the same with or without them.
  ctx.dispatch({
    kernel,
    dtype,
    tensors: [x, gamma ?? x, beta ?? x, out],
    uniforms,
    workgroups: flatGrid(layout.rows, ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
