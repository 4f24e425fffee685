import type { GpuContext } from '../context.ts';
import type { GpuTensor } from '../tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { product } from './checks.ts';
import { normalizeRows } from './normalize.ts';

export interface GroupNormOptions {
  /** Number of channel groups; must divide C (SD: 32). */
  groups: number;
  /** Per-channel scale [C] (torch `weight`). */
  gamma?: GpuTensor;
  /** Per-channel shift [C] (torch `bias`). */
  beta?: GpuTensor;
  /** Default 1e-5 (SD's UNet uses 1e-5, its VAE 1e-6). */
  epsilon?: number;
  out?: GpuTensor;
}

/**
 * torch.nn.GroupNorm on [N, C, ...spatial]: each (n, group) block of C/G channels is one
 * contiguous row of (C/G) * spatial elements, normalized together, then scaled per channel.
 */
export function groupNorm(ctx: GpuContext, x: GpuTensor, options: GroupNormOptions): GpuTensor {
  const { groups } = options;
  if (x.shape.length < 2) throw new ShapeError(`groupNorm: input [${x.shape}] needs shape [N, C, ...]`);
  const [batch, channels] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) throw new ShapeError(`groupNorm: ${groups} groups do not divide the ${channels} channels of [${x.shape}]`);
  const spatial = product(x.shape.slice(2));
  return normalizeRows(ctx, 'groupNorm', x, {
    rows: batch * groups,
    n: (channels / groups) * spatial,
    paramRows: groups,
    paramDiv: spatial,
    paramCount: channels,
    gamma: options.gamma,
    beta: options.beta,
    epsilon: options.epsilon ?? 1e-5,
    out: options.out,
  });
}
