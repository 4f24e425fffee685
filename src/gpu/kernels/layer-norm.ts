import type { GpuContext } from '../context.ts';
import type { GpuTensor } from '../tensor.ts';
import { normalizeAxis, product } from './checks.ts';
import { normalizeRows } from './normalize.ts';

export interface LayerNormOptions {
  /** First normalized axis; all axes from it to the last are normalized (ONNX). Default -1. */
  axis?: number;
  /** Scale over the normalized axes (ONNX `Scale`, torch `weight`); same element count. */
  gamma?: GpuTensor;
  /** Shift over the normalized axes (ONNX `B`, torch `bias`). */
  beta?: GpuTensor;
  /** Default 1e-5. */
  epsilon?: number;
  out?: GpuTensor;
}

/** ONNX LayerNormalization (stash_type float): y = (x - mean) / sqrt(var + eps) * gamma + beta. */
export function layerNorm(ctx: GpuContext, x: GpuTensor, options: LayerNormOptions = {}): GpuTensor {
  const axis = normalizeAxis('layerNorm', options.axis ?? -1, x.shape);
  const n = product(x.shape.slice(axis));
  return normalizeRows(ctx, 'layerNorm', x, {
    rows: product(x.shape.slice(0, axis)),
    n,
    paramRows: 1,
    paramDiv: 1,
    paramCount: n,
    gamma: options.gamma,
    beta: options.beta,
    epsilon: options.epsilon ?? 1e-5,
    out: options.out,
  });
}
