/**
 * Layout ops. Reshape, Flatten, Squeeze and Unsqueeze are views (same buffer, new shape);
 * Transpose, Slice, Split, Concat, Expand, Resize and Gather copy through one layout-copy
 * kernel. Every operand that decides a shape is folded at load into attributes.
 */
import type { GpuContext } from '../../gpu/context.ts';
import { contiguousStrides, layoutCopy, transpose as transposeKernel } from '../../gpu/kernels/layout-copy.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import {
  expandShape,
  expandView,
  reshapeTarget,
  resolveSlice,
  sliceView,
  squeezeShape,
  transposeView,
  unsqueezeShape,
  type StridedView,
} from './layout-math.ts';
import type { Op, PrepareArgs, VjpRule } from './op.ts';
import { intAttribute, intsAttribute, normalizeAxisAt, numbersOf, requireShape, stringAttribute } from './prepare-helpers.ts';
import { product } from '../../gpu/kernels/checks.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { zeros } from '../../gpu/kernels/fill.ts';
import {
  copyOf,
  gradOf,
  input,
  intAttributeOf,
  intsAttributeOf,
  intsFromAttributeOrInput,
  normalizeAxisFor,
  output,
  stringAttributeOf,
  unbroadcast,
} from './vjp-helpers.ts';

function copyView(ctx: GpuContext, x: GpuTensor, view: StridedView): GpuTensor {
  const out = ctx.empty(view.shape, x.dtype);
  layoutCopy(ctx, x, out, { shape: view.shape, inStrides: view.strides, inOffset: view.offset, divisors: view.divisors });
  return out;
}

/** A view whose output shape was fixed at load; resolved attribute `shape`. */
function viewSpec(outputShape: (args: PrepareArgs) => number[], staticInputs?: number[]): Op {
  return {
    staticInputs,
    prepare: (args) => {
      const shape = outputShape(args);
      return { attributes: { ...args.attributes, shape }, outputShapes: [shape] };
    },
    forward: (_ctx, [x], node) => ({ outputs: [x!.reshape(node.outputShapes[0])] }),
  };
}

const Reshape = viewSpec(
  (args) => {
    const target = numbersOf(args.operands[1]);
    if (!target) throw new ShapeError(`${args.label}: the target shape must be known at load`);
    return reshapeTarget(args.label, requireShape(args, 0), target, intAttribute(args, 'allowzero', 0) === 1);
  },
  [1],
);

const Flatten = viewSpec((args) => {
  const x = requireShape(args, 0);
  const axis = intAttribute(args, 'axis', 1);
  const at = axis < 0 ? axis + x.length : axis;
  if (at < 0 || at > x.length) throw new ShapeError(`${args.label}: axis ${axis} out of range for [${x}]`);
  return [x.slice(0, at).reduce((a, b) => a * b, 1), x.slice(at).reduce((a, b) => a * b, 1)];
});

const Unsqueeze = viewSpec(
  (args) => {
    const axes = intsAttribute(args, 'axes') ?? numbersOf(args.operands[1]);
    if (!axes) throw new ShapeError(`${args.label}: axes must be known at load`);
    return unsqueezeShape(args.label, requireShape(args, 0), axes);
  },
  [1],
);

const Squeeze = viewSpec((args) => squeezeShape(args.label, requireShape(args, 0), intsAttribute(args, 'axes') ?? numbersOf(args.operands[1])), [1]);

/** Resolved: `perm`. */
const Transpose: Op = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const perm = intsAttribute(args, 'perm') ?? x.map((_, i) => x.length - 1 - i);
    if (perm.length !== x.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
      throw new ShapeError(`${args.label}: perm [${perm}] is not a permutation of rank ${x.length}`);
    return { attributes: { ...args.attributes, perm }, outputShapes: [perm.map((p) => x[p])] };
  },
  forward: (ctx, [x], node) => ({ outputs: [copyView(ctx, x!, transposeView(x!.shape, node.attributes.perm as number[]))] }),
};

/** Resolved: `axes` (non-negative), `starts` (first index taken), `ends` (clamped), `steps`. */
const Slice: Op = {
  staticInputs: [1, 2, 3, 4],
  prepare: (args) => {
    const x = requireShape(args, 0);
    const starts = numbersOf(args.operands[1]) ?? intsAttribute(args, 'starts');
    const ends = numbersOf(args.operands[2]) ?? intsAttribute(args, 'ends');
    if (!starts || !ends) throw new ShapeError(`${args.label}: starts and ends must be known at load`);
    const slice = resolveSlice(args.label, x, starts, ends, numbersOf(args.operands[3]) ?? intsAttribute(args, 'axes'), numbersOf(args.operands[4]));
    return { attributes: { axes: slice.axes, starts: slice.starts, ends: slice.ends, steps: slice.steps }, outputShapes: [slice.shape] };
  },
  forward: (ctx, [x], node) => {
    const a = node.attributes as { axes: number[]; starts: number[]; ends: number[]; steps: number[] };
    return { outputs: [copyView(ctx, x!, sliceView(x!.shape, { ...a, shape: node.outputShapes[0] }))] };
  },
};

/** Resolved: `axis` (non-negative) and `split` (the part sizes). */
const Split: Op = {
  staticInputs: [1],
  prepare: (args) => {
    const x = requireShape(args, 0);
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis', 0), x.length);
    let split = numbersOf(args.operands[1]) ?? intsAttribute(args, 'split');
    const parts = intAttribute(args, 'num_outputs', 0) || args.outputCount;
    if (!split) {
      if (parts < 1) throw new ShapeError(`${args.label}: no split sizes and no output count`);
      const size = Math.ceil(x[axis] / parts);
      split = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(size, x[axis] - i * size)));
    }
    if (split.reduce((a, b) => a + b, 0) !== x[axis]) throw new ShapeError(`${args.label}: parts [${split}] do not add up to axis ${axis} of [${x}]`);
    if (split.length !== args.outputCount) throw new ShapeError(`${args.label}: ${split.length} parts for ${args.outputCount} outputs`);
    return { attributes: { ...args.attributes, axis, split }, outputShapes: split.map((s) => x.map((d, i) => (i === axis ? s : d))) };
  },
  forward: (ctx, [x], node) => {
    const axis = node.attributes.axis as number;
    const split = node.attributes.split as number[];
    const strides = contiguousStrides(x!.shape);
    let start = 0;
    const outputs = split.map((size, i) => {
      const view = { shape: node.outputShapes[i], offset: start * strides[axis], strides };
      start += size;
      return copyView(ctx, x!, view);
    });
    return { outputs };
  },
};

/** Resolved: `axis` (non-negative). */
const Concat: Op = {
  prepare: (args) => {
    const shapes = args.inputShapes.map((s, i) => s ?? requireShape(args, i));
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis'), shapes[0].length);
    const out = [...shapes[0]];
    out[axis] = 0;
    for (const s of shapes) {
      if (s.length !== out.length || s.some((d, i) => i !== axis && d !== out[i]))
        throw new ShapeError(`${args.label}: inputs [${shapes.map((x) => `[${x}]`).join(', ')}] differ off axis ${axis}`);
      out[axis] += s[axis];
    }
    return { attributes: { ...args.attributes, axis }, outputShapes: [out] };
  },
  forward: (ctx, inputs, node) => {
    const axis = node.attributes.axis as number;
    const outShape = node.outputShapes[0];
    const out = ctx.empty(outShape, inputs[0]!.dtype);
    const outStrides = contiguousStrides(outShape);
    let start = 0;
    for (const x of inputs) {
      if (x!.size > 0) layoutCopy(ctx, x!, out, { shape: x!.shape, inStrides: contiguousStrides(x!.shape), outStrides, outOffset: start * outStrides[axis] });
      start += x!.shape[axis];
    }
    return { outputs: [out] };
  },
};

/** Resolved: `shape` (the output shape). */
const Expand: Op = {
  staticInputs: [1],
  prepare: (args) => {
    const requested = numbersOf(args.operands[1]);
    if (!requested) throw new ShapeError(`${args.label}: the shape must be known at load`);
    const shape = expandShape(args.label, requireShape(args, 0), requested);
    return { attributes: { shape }, outputShapes: [shape] };
  },
  forward: (ctx, [x], node) => ({ outputs: [copyView(ctx, x!, expandView('Expand', x!.shape, node.outputShapes[0]))] }),
};

/**
 * Nearest-neighbour Resize by integer factors (torch's upsample_nearest2d export). For an
 * integer factor s, asymmetric+floor and half_pixel+round both map output o to input ⌊o/s⌋.
 * Resolved: `factors` (one integer per axis).
 */
const Resize: Op = {
  staticInputs: [1, 2, 3],
  prepare: (args) => {
    const x = requireShape(args, 0);
    const mode = stringAttribute(args, 'mode', 'nearest');
    const transform = stringAttribute(args, 'coordinate_transformation_mode', 'half_pixel');
    const nearest = stringAttribute(args, 'nearest_mode', 'round_prefer_floor');
    if (mode !== 'nearest') throw new ShapeError(`${args.label}: mode "${mode}" is not supported (nearest only)`);
    const floorLike =
      (transform === 'asymmetric' && nearest === 'floor') ||
      ((transform === 'half_pixel' || transform === 'pytorch_half_pixel') && nearest.startsWith('round_prefer'));
    if (!floorLike) throw new ShapeError(`${args.label}: coordinate_transformation_mode "${transform}" with nearest_mode "${nearest}" is not supported`);
    if (args.attributes.axes !== undefined) throw new ShapeError(`${args.label}: the axes attribute is not supported`);
    const scales = args.operands[2] && args.operands[2].length > 0 ? Array.from(args.operands[2]) : undefined;
    const sizes = args.operands[3] && args.operands[3].length > 0 ? Array.from(args.operands[3]) : undefined;
    let factors: number[];
    if (scales) factors = scales;
    else if (sizes) factors = sizes.map((s, i) => s / x[i]);
    else throw new ShapeError(`${args.label}: neither scales nor sizes known at load`);
    if (factors.length !== x.length || factors.some((f) => !Number.isInteger(f) || f < 1))
      throw new ShapeError(`${args.label}: factors [${factors}] must be positive integers, one per axis of [${x}]`);
    return { attributes: { ...args.attributes, factors }, outputShapes: [x.map((d, i) => d * factors[i])] };
  },
  forward: (ctx, [x], node) => ({
    outputs: [
      copyView(ctx, x!, { shape: node.outputShapes[0], offset: 0, strides: contiguousStrides(x!.shape), divisors: node.attributes.factors as number[] }),
    ],
  }),
};

/** Gather with indices known at load. Resolved: `axis`, `indices` (Int32Array, non-negative), `indicesShape`. */
const Gather: Op = {
  staticInputs: [1],
  prepare: (args) => {
    const x = requireShape(args, 0);
    const indices = args.operands[1];
    const indicesShape = args.inputShapes[1];
    if (!indices || !indicesShape) throw new ShapeError(`${args.label}: indices must be known at load`);
    const axis = normalizeAxisAt(args.label, intAttribute(args, 'axis', 0), x.length);
    const resolved = Int32Array.from(indices, (i) => {
      const at = i < 0 ? i + x[axis] : i;
      if (!Number.isInteger(at) || at < 0 || at >= x[axis]) throw new ShapeError(`${args.label}: index ${i} out of range for axis ${axis} of [${x}]`);
      return at;
    });
    return { attributes: { axis, indices: resolved, indicesShape }, outputShapes: [[...x.slice(0, axis), ...indicesShape, ...x.slice(axis + 1)]] };
  },
  forward: (ctx, [x], node) => {
    const axis = node.attributes.axis as number;
    const indices = node.attributes.indices as Int32Array;
    const inStrides = contiguousStrides(x!.shape);
    const outer = x!.shape.slice(0, axis);
    const inner = x!.shape.slice(axis + 1);
    const out = ctx.empty(node.outputShapes[0], x!.dtype);
    // Output viewed as [outer, indices, inner]: one copy per index.
    const outView = [...outer, indices.length, ...inner];
    const outStrides = contiguousStrides(outView);
    indices.forEach((index, k) => {
      layoutCopy(ctx, x!, out, {
        shape: [...outer, ...inner],
        inStrides: [...inStrides.slice(0, axis), ...inStrides.slice(axis + 1)],
        inOffset: index * inStrides[axis],
        outStrides: [...outStrides.slice(0, axis), ...outStrides.slice(axis + 1)],
        outOffset: k * outStrides[axis],
      });
    });
    return { outputs: [out] };
  },
};

// Derivatives (reverse mode) of the ops above; the registry below pairs each forward with its derivative.

// Data-movement ops: their gradients move dy back to where each element came from.
const floatType = (t: GpuTensor): 'f32' | 'f16' => (t.dtype === 'f16' ? 'f16' : 'f32');

// Reshape, Flatten, Squeeze, Unsqueeze: same elements in the same order, dx = dy in x's shape.
const reshapeVjp: VjpRule = (v, grads) => [copyOf(v.ctx, gradOf(v, grads), input(v, 0).shape), ...v.node.inputs.slice(1).map(() => null)];

// y = transpose(x, perm):  dx = transpose(dy, perm⁻¹)
const transposeVjp: VjpRule = (v, grads) => {
  const x = input(v, 0);
  const perm = intsAttributeOf(v.node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [transposeKernel(v.ctx, gradOf(v, grads), inverse)];
};

// y = concat(x_0, x_1, ..., axis):  dx_i = the slab of dy that x_i filled
const concatVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const axis = normalizeAxisFor(v, intAttributeOf(v.node, 'axis', 0), dy.shape.length);
  const strides = contiguousStrides(dy.shape);
  let offset = 0;
  return v.node.inputs.map((_, i) => {
    const x = input(v, i);
    const start = offset;
    offset += x.shape[axis];
    if (!v.needs[i]) return null;
    const dx = v.ctx.empty(x.shape, floatType(dy));
    layoutCopy(v.ctx, dy, dx, { shape: x.shape, inStrides: strides, inOffset: start * strides[axis] });
    return dx;
  });
};

// (y_0, y_1, ...) = split(x, axis):  dx = concat(dy_0, dy_1, ...), zeros for unused outputs
const splitVjp: VjpRule = (v, grads) => {
  const x = input(v, 0);
  const axis = normalizeAxisFor(v, intAttributeOf(v.node, 'axis', 0), x.shape.length);
  const strides = contiguousStrides(x.shape);
  const present = grads.filter((g): g is GpuTensor => g !== null);
  if (present.length === 0) throw new ShapeError(`Split ${v.node.name}: no gradient for any output`);
  const dx = present.length === grads.length ? v.ctx.empty(x.shape, floatType(present[0])) : zeros(v.ctx, x.shape, floatType(present[0]));
  let offset = 0;
  v.node.outputs.forEach((_, i) => {
    const piece = output(v, i);
    const g = grads[i];
    if (g) layoutCopy(v.ctx, g, dx, { shape: piece.shape, inStrides: contiguousStrides(piece.shape), outStrides: strides, outOffset: offset * strides[axis] });
    offset += piece.shape[axis];
  });
  return [dx, ...v.node.inputs.slice(1).map(() => null)];
};

// y = x[starts : ends : steps] on some axes:  dx = zeros with dy scattered back into the window
const sliceVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const x = input(v, 0);
  const rank = x.shape.length;
  const starts = intsFromAttributeOrInput(v, 'starts', 1);
  if (!starts) throw new ShapeError(`Slice ${v.node.name}: starts are unknown`);
  const axes = (intsFromAttributeOrInput(v, 'axes', 3) ?? starts.map((_, i) => i)).map((a) => normalizeAxisFor(v, a, rank));
  const steps = intsFromAttributeOrInput(v, 'steps', 4) ?? starts.map(() => 1);
  const xStrides = contiguousStrides(x.shape);
  const dstStrides = [...xStrides];
  let dstOffset = 0;
  axes.forEach((axis, i) => {
    const dim = x.shape[axis];
    const step = steps[i];
    if (step === 0) throw new ShapeError(`Slice ${v.node.name}: step 0 on axis ${axis}`);
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    // ONNX clamps starts to [0, dim] going forward and [0, dim - 1] going backward.
    start = step > 0 ? Math.min(Math.max(start, 0), dim) : Math.min(Math.max(start, 0), dim - 1);
    dstOffset += start * xStrides[axis];
    dstStrides[axis] = xStrides[axis] * step;
  });
  const dx = zeros(v.ctx, x.shape, floatType(dy));
  layoutCopy(v.ctx, dy, dx, { shape: dy.shape, inStrides: contiguousStrides(dy.shape), outStrides: dstStrides, outOffset: dstOffset });
  return [dx, ...v.node.inputs.slice(1).map(() => null)];
};

// Nearest-neighbour Resize by integer factors: each input element was copied into a block of
// s_0 x s_1 x ... outputs, so dx sums dy over those blocks (one reduction per scaled axis).
const resizeVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const x = input(v, 0);
  const mode = stringAttributeOf(v.node, 'mode', 'nearest');
  const transform = stringAttributeOf(v.node, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = stringAttributeOf(v.node, 'nearest_mode', 'round_prefer_floor');
  // With an integer factor s, output o = s i + r maps back to i exactly when the source
  // coordinate stays within i's rounding cell: half_pixel gives i + (r + 0.5)/s - 0.5, which
  // rounds to i either way; asymmetric gives i + r/s, which only floor maps back to i.
  const blocky =
    ((transform === 'half_pixel' || transform === 'pytorch_half_pixel') && nearest.startsWith('round_prefer')) ||
    (transform === 'asymmetric' && nearest === 'floor');
  if (mode !== 'nearest' || !blocky)
    throw new ShapeError(
      `Resize ${v.node.name}: backward supports nearest resizing by integer factors (half_pixel or asymmetric+floor), got mode ${mode}, ${transform}, ${nearest}`,
    );
  if (dy.shape.length !== x.shape.length) throw new ShapeError(`Resize ${v.node.name}: rank changed`);
  let current = dy;
  x.shape.forEach((inDim, axis) => {
    const outDim = dy.shape[axis];
    if (outDim === inDim) return;
    const factor = outDim / inDim;
    if (!Number.isInteger(factor)) throw new ShapeError(`Resize ${v.node.name}: axis ${axis} goes from ${inDim} to ${outDim}, not an integer factor`);
    const view = [product(current.shape.slice(0, axis)) * inDim, factor, product(current.shape.slice(axis + 1))];
    const next = v.ctx.empty(
      current.shape.map((d, i) => (i === axis ? inDim : d)),
      floatType(dy),
    );
    reduce(v.ctx, 'sum', current.reshape(view), { axis: 1, out: next });
    if (current !== dy) current.release();
    current = next;
  });
  return [current === dy ? copyOf(v.ctx, dy) : current, ...v.node.inputs.slice(1).map(() => null)];
};

// y = expand(x, shape):  dx = dy summed over the broadcast axes
const expandVjp: VjpRule = (v, grads) => [unbroadcast(v.ctx, copyOf(v.ctx, gradOf(v, grads)), input(v, 0).shape), null];

export const LAYOUT_OPS: Record<string, Op> = {
  Reshape: { ...Reshape, backward: reshapeVjp },
  Flatten: { ...Flatten, backward: reshapeVjp },
  Unsqueeze: { ...Unsqueeze, backward: reshapeVjp },
  Squeeze: { ...Squeeze, backward: reshapeVjp },
  Transpose: { ...Transpose, backward: transposeVjp },
  Slice: { ...Slice, backward: sliceVjp },
  Split: { ...Split, backward: splitVjp, differentiableOutputs: 'all' },
  Concat: { ...Concat, backward: concatVjp },
  Expand: { ...Expand, backward: expandVjp },
  Resize: { ...Resize, backward: resizeVjp },
  Gather,
};
