/** Data-movement ops: their gradients move dy back to where each element came from. */
import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { product } from '../../gpu/kernels/checks.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { zeros } from '../../gpu/kernels/fill.ts';
import { contiguousStrides, layoutCopy, transpose as transposeKernel } from '../../gpu/kernels/layout-copy.ts';
import { copyOf, gradOf, input, intAttribute, intsAttribute, intsFromAttributeOrInput, normalizeAxisFor, output, stringAttribute } from './util.ts';
import type { OpRule } from './types.ts';

const floatType = (t: GpuTensor): 'f32' | 'f16' => (t.dtype === 'f16' ? 'f16' : 'f32');

// Reshape, Flatten, Squeeze, Unsqueeze: same elements in the same order, dx = dy in x's shape.
export const reshape: OpRule = {
  backward: (v, grads) => [copyOf(v.ctx, gradOf(v, grads), input(v, 0).shape), ...v.node.inputs.slice(1).map(() => null)],
};

// y = transpose(x, perm):  dx = transpose(dy, perm⁻¹)
export const transpose: OpRule = {
  backward: (v, grads) => {
    const x = input(v, 0);
    const perm = intsAttribute(v.node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [transposeKernel(v.ctx, gradOf(v, grads), inverse)];
  },
};

// y = concat(x_0, x_1, ..., axis):  dx_i = the slab of dy that x_i filled
export const concat: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const axis = normalizeAxisFor(v, intAttribute(v.node, 'axis', 0), dy.shape.length);
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
  },
};

// (y_0, y_1, ...) = split(x, axis):  dx = concat(dy_0, dy_1, ...), zeros for unused outputs
export const split: OpRule = {
  differentiableOutputs: 'all',
  backward: (v, grads) => {
    const x = input(v, 0);
    const axis = normalizeAxisFor(v, intAttribute(v.node, 'axis', 0), x.shape.length);
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
  },
};

// y = x[starts : ends : steps] on some axes:  dx = zeros with dy scattered back into the window
export const slice: OpRule = {
  backward: (v, grads) => {
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
  },
};

// Nearest-neighbour Resize by integer factors: each input element was copied into a block of
// s_0 x s_1 x ... outputs, so dx sums dy over those blocks (one reduction per scaled axis).
export const resize: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const x = input(v, 0);
    const mode = stringAttribute(v.node, 'mode', 'nearest');
    const transform = stringAttribute(v.node, 'coordinate_transformation_mode', 'half_pixel');
    const nearest = stringAttribute(v.node, 'nearest_mode', 'round_prefer_floor');
    // With an integer factor s, output o = s i + r maps back to i exactly when the source
    // coordinate stays within i's rounding cell: half_pixel gives i + (r + 0.5)/s - 0.5, which
    // rounds to i either way; asymmetric gives i + r/s, which only floor maps back to i.
    const blocky = (transform === 'half_pixel' || transform === 'pytorch_half_pixel') && nearest.startsWith('round_prefer') || (transform === 'asymmetric' && nearest === 'floor');
    if (mode !== 'nearest' || !blocky) throw new ShapeError(`Resize ${v.node.name}: backward supports nearest resizing by integer factors (half_pixel or asymmetric+floor), got mode ${mode}, ${transform}, ${nearest}`);
    if (dy.shape.length !== x.shape.length) throw new ShapeError(`Resize ${v.node.name}: rank changed`);
    let current = dy;
    x.shape.forEach((inDim, axis) => {
      const outDim = dy.shape[axis];
      if (outDim === inDim) return;
      const factor = outDim / inDim;
      if (!Number.isInteger(factor)) throw new ShapeError(`Resize ${v.node.name}: axis ${axis} goes from ${inDim} to ${outDim}, not an integer factor`);
      const view = [product(current.shape.slice(0, axis)) * inDim, factor, product(current.shape.slice(axis + 1))];
      const next = v.ctx.empty(current.shape.map((d, i) => (i === axis ? inDim : d)), floatType(dy));
      reduce(v.ctx, 'sum', current.reshape(view), { axis: 1, out: next });
      if (current !== dy) current.release();
      current = next;
    });
    return [current === dy ? copyOf(v.ctx, dy) : current, ...v.node.inputs.slice(1).map(() => null)];
  },
};

