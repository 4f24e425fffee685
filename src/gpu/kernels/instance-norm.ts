import type { GpuContext } from '../context.ts';
import type { GpuTensor } from '../tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { product } from './checks.ts';
import { normalizeRows } from './normalize.ts';

/**
 * ONNX InstanceNormalization on [N, C, ...spatial]: each (n, c) plane normalized on its own,
 * then `scale[c]`, `bias[c]`. Exported GroupNorms appear as Reshape -> InstanceNormalization
 * -> Reshape -> Mul -> Add; this is GroupNorm with one channel per group (same kernel).
 */
export function instanceNorm(ctx: GpuContext, x: GpuTensor, scale: GpuTensor, bias: GpuTensor, options: { epsilon?: number; out?: GpuTensor } = {}): GpuTensor {
  if (x.shape.length < 3) throw new ShapeError(`instanceNorm: input [${x.shape}] needs shape [N, C, D1, ...]`);
  const [batch, channels] = x.shape;
  const spatial = product(x.shape.slice(2));
  return normalizeRows(ctx, 'instanceNorm', x, {
    rows: batch * channels,
    n: spatial,
    paramRows: channels,
    paramDiv: spatial,
    paramCount: channels,
    gamma: scale,
    beta: bias,
    epsilon: options.epsilon ?? 1e-5,
    out: options.out,
  });
}
