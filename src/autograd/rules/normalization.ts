import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { product } from '../../gpu/kernels/checks.ts';
import { normalizeRowsBackward } from '../../gpu/kernels/normalize-backward.ts';
import { sumToShape } from '../../gpu/kernels/sum-to-shape.ts';
import { copyOf, floatAttribute, gradOf, input, intAttribute, normalizeAxisFor } from './util.ts';
import type { OpRule } from './types.ts';

/** Sums `x` viewed as `view` down to `target`, shaped like `like`; releases nothing it was given. */
function parameterGradient(ctx: Parameters<typeof sumToShape>[0], x: GpuTensor, view: number[], target: number[], like: readonly number[]): GpuTensor {
  const summed = sumToShape(ctx, x.reshape(view), target);
  const out = copyOf(ctx, summed, like);
  summed.release();
  return out;
}

// y = (x - mean) / sqrt(var + eps) * scale[c] + bias[c] over each (n, c) plane:
//   dx = (g - mean(g) - xhat mean(g xhat)) / std with g = dy scale[c] (normalize-backward.wgsl),
//   dscale[c] = sum over n, spatial of dy xhat,  dbias[c] = sum of dy.
export const instanceNormalization: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [x, scale] = [input(v, 0), input(v, 1)];
    if (x.shape.length < 3) throw new ShapeError(`InstanceNormalization ${v.node.name}: input [${x.shape}] needs rank >= 3`);
    const [batch, channels] = x.shape;
    const spatial = product(x.shape.slice(2));
    const { dx, dyXhat } = normalizeRowsBackward(v.ctx, 'InstanceNormalization', x, dy, {
      rows: batch * channels,
      n: spatial,
      paramRows: channels,
      paramDiv: spatial,
      paramCount: channels,
      gamma: scale,
      epsilon: floatAttribute(v.node, 'epsilon', 1e-5),
    });
    const view = [batch, channels, spatial];
    const dScale = v.needs[1] ? parameterGradient(v.ctx, dyXhat, view, [1, channels, 1], scale.shape) : null;
    const dBias = v.needs[2] ? parameterGradient(v.ctx, dy, view, [1, channels, 1], input(v, 2).shape) : null;
    dyXhat.release();
    return [v.needs[0] ? dx : (dx.release(), null), dScale, dBias];
  },
};

// LayerNormalization over axes [axis, rank): the same row backward with one parameter row;
//   dscale = sum over rows of dy xhat, dbias = sum over rows of dy.
export const layerNormalization: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [x, scale] = [input(v, 0), input(v, 1)];
    const axis = normalizeAxisFor(v, intAttribute(v.node, 'axis', -1), x.shape.length);
    const n = product(x.shape.slice(axis));
    const rows = product(x.shape.slice(0, axis));
    const { dx, dyXhat } = normalizeRowsBackward(v.ctx, 'LayerNormalization', x, dy, {
      rows,
      n,
      paramRows: 1,
      paramDiv: 1,
      paramCount: n,
      gamma: scale,
      epsilon: floatAttribute(v.node, 'epsilon', 1e-5),
    });
    const dScale = v.needs[1] ? parameterGradient(v.ctx, dyXhat, [rows, n], [1, n], scale.shape) : null;
    const dBias = v.needs[2] ? parameterGradient(v.ctx, dy, [rows, n], [1, n], input(v, 2).shape) : null;
    dyXhat.release();
    return [v.needs[0] ? dx : (dx.release(), null), dScale, dBias];
  },
};
