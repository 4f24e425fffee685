import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype } from './checks.ts';
import { flatGrid } from './grid.ts';
import type { RowNormalization } from './normalize.ts';
import wgsl from './normalize-backward.wgsl?raw';

const kernel: KernelSource = { name: 'normalize-backward', wgsl };

export interface RowNormalizationGradients {
  /** dL/dx, shaped like x. */
  dx: GpuTensor;
  /** dy * xhat, shaped like x: summed per parameter index it gives dL/dgamma. */
  dyXhat: GpuTensor;
}

/** Backward of normalizeRows for the same layout (beta plays no part in dx). */
export function normalizeRowsBackward(ctx: GpuContext, name: string, x: GpuTensor, dy: GpuTensor, layout: Omit<RowNormalization, 'beta' | 'out'>): RowNormalizationGradients {
  const { gamma } = layout;
  const dtype = floatDtype(`${name} backward`, x, dy, ...(gamma ? [gamma] : []));
  if (dy.size !== x.size) throw new ShapeError(`${name} backward: dy [${dy.shape}] does not match x [${x.shape}]`);
  if (gamma && gamma.size !== layout.paramCount) throw new ShapeError(`${name} backward: gamma [${gamma.shape}] must have ${layout.paramCount} elements`);
  const dx = ctx.empty(x.shape, dtype);
  const dyXhat = ctx.empty(x.shape, dtype);
  const uniforms = new Uniforms().u32(layout.rows).u32(layout.n).u32(layout.paramRows).u32(layout.paramDiv).f32(layout.epsilon).u32(gamma ? 1 : 0).finish();
  ctx.dispatch({ kernel, dtype, tensors: [x, gamma ?? x, dy, dx, dyXhat], uniforms, workgroups: flatGrid(layout.rows, ctx.device.limits.maxComputeWorkgroupsPerDimension) });
  return { dx, dyXhat };
}
