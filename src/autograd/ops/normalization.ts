/** Normalizations, Softmax and reductions. */
import { instanceNorm } from '../../gpu/kernels/instance-norm.ts';
import { layerNorm } from '../../gpu/kernels/layer-norm.ts';
import { reduce, type ReduceOp } from '../../gpu/kernels/reduce.ts';
import { softmax } from '../../gpu/kernels/softmax.ts';
import { ShapeError } from '../../util/errors.ts';
import type { Op, VjpRule } from './op.ts';
import { intAttribute, intsAttribute, normalizeAxisAt, numbersOf, requireShape } from './prepare-helpers.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { product } from '../../gpu/kernels/checks.ts';
import { normalizeRowsBackward } from '../../gpu/kernels/normalize-backward.ts';
import { sumToShape } from '../../gpu/kernels/sum-to-shape.ts';
import { copyOf, floatAttributeOf, gradOf, input, intAttributeOf, normalizeAxisFor, output, intsFromAttributeOrInput } from './vjp-helpers.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import { expandTo } from '../../gpu/kernels/layout-copy.ts';
import { affine } from '../../gpu/kernels/unary.ts';

const InstanceNormalization: Op = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    if (x.length < 3) throw new ShapeError(`${args.label}: input [${x}] needs rank >= 3`);
    for (const i of [1, 2]) {
      const s = requireShape(args, i);
      if (s.length !== 1 || s[0] !== x[1]) throw new ShapeError(`${args.label}: input ${i} [${s}] must be [${x[1]}]`);
    }
    return { attributes: { ...args.attributes, epsilon: (args.attributes.epsilon as number | undefined) ?? 1e-5 }, outputShapes: [x] };
  },
  forward: (ctx, [x, scale, bias], node) => ({ outputs: [instanceNorm(ctx, x!, scale!, bias!, { epsilon: node.attributes.epsilon as number })] }),
};

/** Resolved: `axis` (non-negative), `epsilon`. Only the Y output. */
const LayerNormalization: Op = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis', -1), x.length);
    if (intAttribute(args, 'stash_type', 1) !== 1) throw new ShapeError(`${args.label}: only stash_type=1 (float) is supported`);
    const normalized = x.slice(axis).reduce((a, b) => a * b, 1);
    for (const i of [1, 2]) {
      const s = args.inputShapes[i];
      if (s && s.reduce((a, b) => a * b, 1) !== normalized)
        throw new ShapeError(`${args.label}: input ${i} [${s}] must cover the normalized axes [${x.slice(axis)}]`);
    }
    return { attributes: { ...args.attributes, axis, epsilon: (args.attributes.epsilon as number | undefined) ?? 1e-5 }, outputShapes: [x] };
  },
  forward: (ctx, [x, gamma, beta], node) => ({
    outputs: [
      layerNorm(ctx, x!, {
        axis: node.attributes.axis as number,
        gamma: gamma ?? undefined,
        beta: beta ?? undefined,
        epsilon: node.attributes.epsilon as number,
      }),
    ],
  }),
};

/**
 * Resolved: `axis` (non-negative) and `flatten` (1 for opset < 13, where Softmax normalizes
 * all axes from `axis` on together).
 */
const Softmax: Op = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const legacy = args.opset < 13;
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis', legacy ? 1 : -1), x.length);
    return { attributes: { ...args.attributes, axis, flatten: legacy ? 1 : 0 }, outputShapes: [x] };
  },
  forward: (ctx, [x], node) => {
    const axis = node.attributes.axis as number;
    if (node.attributes.flatten === 1 && axis < x!.shape.length - 1) {
      const outer = x!.shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const flat = softmax(ctx, x!.reshape([outer, x!.size / outer]), { axis: 1 });
      return { outputs: [flat.reshape(x!.shape)] };
    }
    return { outputs: [softmax(ctx, x!, { axis })] };
  },
};

/** Resolved: `axes` (non-negative, ascending, adjacent), `keepdims`. */
function reduceSpec(op: ReduceOp): Op {
  return {
    staticInputs: [1],
    prepare: (args) => {
      const x = requireShape(args, 0);
      const given = intsAttribute(args, 'axes') ?? numbersOf(args.operands[1] ?? null);
      const keepdims = intAttribute(args, 'keepdims', 1);
      if ((given === undefined || given.length === 0) && intAttribute(args, 'noop_with_empty_axes', 0) === 1)
        throw new ShapeError(`${args.label}: noop_with_empty_axes is not supported`);
      const axes = (given && given.length > 0 ? given : x.map((_, i) => i)).map((a) => normalizeAxisAt(args.label, a, x.length)).sort((a, b) => a - b);
      for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) throw new ShapeError(`${args.label}: axes [${axes}] must be adjacent`);
      const out = x.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]));
      return { attributes: { ...args.attributes, axes, keepdims }, outputShapes: [out] };
    },
    forward: (ctx, [x], node) => ({
      outputs: [reduce(ctx, op, x!, { axis: node.attributes.axes as number[], keepdims: node.attributes.keepdims === 1 }).reshape(node.outputShapes[0])],
    }),
  };
}

// Derivatives (reverse mode) of the ops above; the registry below pairs each forward with its derivative.

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
const instanceNormalizationVjp: VjpRule = (v, grads) => {
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
    epsilon: floatAttributeOf(v.node, 'epsilon', 1e-5),
  });
  const view = [batch, channels, spatial];
  const dScale = v.needs[1] ? parameterGradient(v.ctx, dyXhat, view, [1, channels, 1], scale.shape) : null;
  const dBias = v.needs[2] ? parameterGradient(v.ctx, dy, view, [1, channels, 1], input(v, 2).shape) : null;
  dyXhat.release();
  return [v.needs[0] ? dx : (dx.release(), null), dScale, dBias];
};

// LayerNormalization over axes [axis, rank): the same row backward with one parameter row;
//   dscale = sum over rows of dy xhat, dbias = sum over rows of dy.
const layerNormalizationVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [x, scale] = [input(v, 0), input(v, 1)];
  const axis = normalizeAxisFor(v, intAttributeOf(v.node, 'axis', -1), x.shape.length);
  const n = product(x.shape.slice(axis));
  const rows = product(x.shape.slice(0, axis));
  const { dx, dyXhat } = normalizeRowsBackward(v.ctx, 'LayerNormalization', x, dy, {
    rows,
    n,
    paramRows: 1,
    paramDiv: 1,
    paramCount: n,
    gamma: scale,
    epsilon: floatAttributeOf(v.node, 'epsilon', 1e-5),
  });
  const dScale = v.needs[1] ? parameterGradient(v.ctx, dyXhat, [rows, n], [1, n], scale.shape) : null;
  const dBias = v.needs[2] ? parameterGradient(v.ctx, dy, [rows, n], [1, n], input(v, 2).shape) : null;
  dyXhat.release();
  return [v.needs[0] ? dx : (dx.release(), null), dScale, dBias];
};

// y = softmax(x, axis):  dx = y * (dy - sum(dy * y, axis))
const softmaxVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const y = output(v, 0);
  const axis = intAttributeOf(v.node, 'axis', -1);
  const product = binary(v.ctx, 'mul', dy, y);
  const sum = reduce(v.ctx, 'sum', product, { axis, keepdims: true });
  product.release();
  const centred = binary(v.ctx, 'sub', dy, sum);
  sum.release();
  const dx = binary(v.ctx, 'mul', centred, y);
  centred.release();
  return [dx];
};

// y = mean(x, axes):  dx = dy / n broadcast back over the reduced axes (n their element count)
const reduceMeanVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const x = input(v, 0);
  const listed = intsFromAttributeOrInput(v, 'axes', 1) ?? [];
  if (listed.length === 0 && intAttributeOf(v.node, 'noop_with_empty_axes', 0) === 1) return [copyOf(v.ctx, dy), null];
  const axes = listed.length === 0 ? x.shape.map((_, i) => i) : listed.map((a) => normalizeAxisFor(v, a, x.shape.length));
  const kept = x.shape.map((dim, i) => (axes.includes(i) ? 1 : dim));
  const n = axes.reduce((acc, a) => acc * x.shape[a], 1);
  // Scaling before the broadcast touches n times fewer elements.
  const scaled = affine(v.ctx, dy.reshape(kept), 1 / n, 0);
  const dx = expandTo(v.ctx, scaled, x.shape);
  scaled.release();
  return [dx, null];
};

export const NORMALIZATION_OPS: Record<string, Op> = {
  InstanceNormalization: { ...InstanceNormalization, backward: instanceNormalizationVjp },
  LayerNormalization: { ...LayerNormalization, backward: layerNormalizationVjp },
  Softmax: { ...Softmax, backward: softmaxVjp },
  ReduceMean: { ...reduceSpec('mean'), backward: reduceMeanVjp },
  ReduceSum: reduceSpec('sum'),
  ReduceMax: reduceSpec('max'),
  ReduceMin: reduceSpec('min'),
};
