/** Normalizations, Softmax and reductions. */
import { instanceNorm } from '../../gpu/kernels/instance-norm.ts';
import { layerNorm } from '../../gpu/kernels/layer-norm.ts';
import { reduce, type ReduceOp } from '../../gpu/kernels/reduce.ts';
import { softmax } from '../../gpu/kernels/softmax.ts';
import { ShapeError } from '../../util/errors.ts';
import type { OpSpec } from './spec.ts';
import { intAttribute, intsAttribute, normalizeAxisAt, numbersOf, requireShape } from './spec.ts';

const InstanceNormalization: OpSpec = {
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
const LayerNormalization: OpSpec = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis', -1), x.length);
    if (intAttribute(args, 'stash_type', 1) !== 1) throw new ShapeError(`${args.label}: only stash_type=1 (float) is supported`);
    const normalized = x.slice(axis).reduce((a, b) => a * b, 1);
    for (const i of [1, 2]) {
      const s = args.inputShapes[i];
      if (s && s.reduce((a, b) => a * b, 1) !== normalized) throw new ShapeError(`${args.label}: input ${i} [${s}] must cover the normalized axes [${x.slice(axis)}]`);
    }
    return { attributes: { ...args.attributes, axis, epsilon: (args.attributes.epsilon as number | undefined) ?? 1e-5 }, outputShapes: [x] };
  },
  forward: (ctx, [x, gamma, beta], node) => ({
    outputs: [layerNorm(ctx, x!, { axis: node.attributes.axis as number, gamma: gamma ?? undefined, beta: beta ?? undefined, epsilon: node.attributes.epsilon as number })],
  }),
};

/**
 * Resolved: `axis` (non-negative) and `flatten` (1 for opset < 13, where Softmax normalizes
 * all axes from `axis` on together).
 */
const Softmax: OpSpec = {
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
function reduceSpec(op: ReduceOp): OpSpec {
  return {
    staticInputs: [1],
    prepare: (args) => {
      const x = requireShape(args, 0);
      const given = intsAttribute(args, 'axes') ?? numbersOf(args.operands[1] ?? null);
      const keepdims = intAttribute(args, 'keepdims', 1);
      if ((given === undefined || given.length === 0) && intAttribute(args, 'noop_with_empty_axes', 0) === 1) throw new ShapeError(`${args.label}: noop_with_empty_axes is not supported`);
      const axes = (given && given.length > 0 ? given : x.map((_, i) => i)).map((a) => normalizeAxisAt(args.label, a, x.length)).sort((a, b) => a - b);
      for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) throw new ShapeError(`${args.label}: axes [${axes}] must be adjacent`);
      const out = x.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]));
      return { attributes: { ...args.attributes, axes, keepdims }, outputShapes: [out] };
    },
    forward: (ctx, [x], node) => ({ outputs: [reduce(ctx, op, x!, { axis: node.attributes.axes as number[], keepdims: node.attributes.keepdims === 1 }).reshape(node.outputShapes[0])] }),
  };
}

export const NORMALIZATION_OPS: Record<string, OpSpec> = {
  InstanceNormalization,
  LayerNormalization,
  Softmax,
  ReduceMean: reduceSpec('mean'),
  ReduceSum: reduceSpec('sum'),
  ReduceMax: reduceSpec('max'),
  ReduceMin: reduceSpec('min'),
};
