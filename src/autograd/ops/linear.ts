/** MatMul, Gemm and Conv: the ops with weights. */
import { affine } from '../../gpu/kernels/unary.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import { broadcastShapes } from '../../gpu/kernels/broadcast.ts';
import { conv2d, conv2dOutputShape } from '../../gpu/kernels/conv2d.ts';
import { matmul, matmul as matmulKernel } from '../../gpu/kernels/matmul.ts';
import { ShapeError } from '../../util/errors.ts';
import type { Op, VjpRule, VjpContext } from './op.ts';
import { intAttribute, intsAttribute, requireShape, stringAttribute } from './prepare-helpers.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { copyOf, floatAttributeOf, gradOf, input, intAttributeOf, unbroadcast, intsAttributeOf, stringAttributeOf } from './vjp-helpers.ts';
import { col2im, convOutputSize, im2col, type Conv2dGeometry } from '../../gpu/kernels/conv-columns.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { sumToShape } from '../../gpu/kernels/sum-to-shape.ts';

/**
 * numpy matmul: rank-1 operands get a unit axis (removed from the result), batch axes
 * broadcast. The kernel takes equal batches or one side without (a batch of 1).
 */
const MatMul: Op = {
  prepare: (args) => {
    const a = requireShape(args, 0);
    const b = requireShape(args, 1);
    if (a.length === 0 || b.length === 0) throw new ShapeError(`${args.label}: scalar operands`);
    const a2 = a.length === 1 ? [1, a[0]] : a;
    const b2 = b.length === 1 ? [b[0], 1] : b;
    if (a2[a2.length - 1] !== b2[b2.length - 2]) throw new ShapeError(`${args.label}: [${a}] x [${b}] inner dimensions differ`);
    const batchA = a2.slice(0, -2);
    const batchB = b2.slice(0, -2);
    const batch = broadcastShapes(args.label, batchA, batchB);
    const countA = batchA.reduce((x, y) => x * y, 1);
    const countB = batchB.reduce((x, y) => x * y, 1);
    const count = batch.reduce((x, y) => x * y, 1);
    if (!(countA === 1 || countA === count) || !(countB === 1 || countB === count))
      throw new ShapeError(`${args.label}: batch shapes [${batchA}] and [${batchB}] broadcast partly; the kernel takes equal batches or a batch of 1`);
    const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
    if (a.length === 1) out.splice(out.length - 2, 1);
    if (b.length === 1) out.splice(out.length - 1, 1);
    return { attributes: args.attributes, outputShapes: [out] };
  },
  forward: (ctx, [a, b], node) => {
    const aShape = a!.shape.length === 1 ? [1, a!.shape[0]] : a!.shape;
    const bShape = b!.shape.length === 1 ? [b!.shape[0], 1] : b!.shape;
    const countA = aShape.slice(0, -2).reduce((x, y) => x * y, 1);
    const countB = bShape.slice(0, -2).reduce((x, y) => x * y, 1);
    // Collapse batch axes so that broadcast ones of size 1 reach the kernel as "no batch".
    const a3 = a!.reshape(countA === 1 ? aShape.slice(-2) : [countA, ...aShape.slice(-2)]);
    const b3 = b!.reshape(countB === 1 ? bShape.slice(-2) : [countB, ...bShape.slice(-2)]);
    const product = matmul(ctx, a3, b3);
    return { outputs: [product.reshape(node.outputShapes[0])] };
  },
};

/** Y = alpha * A' B' + beta * C (C broadcast to [M, N]). */
const Gemm: Op = {
  prepare: (args) => {
    const a = requireShape(args, 0);
    const b = requireShape(args, 1);
    if (a.length !== 2 || b.length !== 2) throw new ShapeError(`${args.label}: A [${a}] and B [${b}] must be matrices`);
    const transA = intAttribute(args, 'transA', 0);
    const transB = intAttribute(args, 'transB', 0);
    const [m, k] = transA ? [a[1], a[0]] : a;
    const [kb, n] = transB ? [b[1], b[0]] : b;
    if (k !== kb) throw new ShapeError(`${args.label}: inner dimensions differ: A [${a}] transA=${transA}, B [${b}] transB=${transB}`);
    const c = args.inputShapes[2];
    if (c) broadcastShapes(args.label, [m, n], c);
    return {
      attributes: {
        ...args.attributes,
        transA,
        transB,
        alpha: (args.attributes.alpha as number | undefined) ?? 1,
        beta: (args.attributes.beta as number | undefined) ?? 1,
      },
      outputShapes: [[m, n]],
    };
  },
  forward: (ctx, [a, b, c], node) => {
    const { transA, transB, alpha, beta } = node.attributes as { transA: number; transB: number; alpha: number; beta: number };
    const product = matmul(ctx, a!, b!, { transposeA: transA === 1, transposeB: transB === 1, alpha });
    if (!c) return { outputs: [product] };
    const scaled = beta === 1 ? c : affine(ctx, c, beta, 0);
    const out = binary(ctx, 'add', product, scaled);
    product.release();
    if (scaled !== c) scaled.release();
    return { outputs: [out] };
  },
};

/**
 * 2-D Conv. Resolved attributes: `strides`, `pads` [top, left, bottom, right] (auto_pad
 * applied), `dilations`, `group`.
 */
const Conv: Op = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const w = requireShape(args, 1);
    if (x.length !== 4) throw new ShapeError(`${args.label}: only 2-D convolution (rank-4 input) is supported, got [${x}]`);
    const strides = intsAttribute(args, 'strides') ?? [1, 1];
    const dilations = intsAttribute(args, 'dilations') ?? [1, 1];
    const group = intAttribute(args, 'group', 1);
    const kernelShape = intsAttribute(args, 'kernel_shape');
    if (kernelShape && (kernelShape[0] !== w[2] || kernelShape[1] !== w[3]))
      throw new ShapeError(`${args.label}: kernel_shape [${kernelShape}] differs from weight [${w}]`);
    const autoPad = stringAttribute(args, 'auto_pad', 'NOTSET');
    let pads = intsAttribute(args, 'pads') ?? [0, 0, 0, 0];
    if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = [0, 1].map((i) => Math.max(0, (Math.ceil(x[2 + i] / strides[i]) - 1) * strides[i] + (w[2 + i] - 1) * dilations[i] + 1 - x[2 + i]));
      const small = total.map((t) => Math.floor(t / 2));
      const large = total.map((t, i) => t - small[i]);
      pads = autoPad === 'SAME_UPPER' ? [small[0], small[1], large[0], large[1]] : [large[0], large[1], small[0], small[1]];
    } else if (autoPad !== 'NOTSET') throw new ShapeError(`${args.label}: auto_pad ${autoPad} is not supported`);
    const options = {
      strides: strides as [number, number],
      pads: pads as [number, number, number, number],
      dilations: dilations as [number, number],
      groups: group,
    };
    const out = conv2dOutputShape(x, w, options);
    const bias = args.inputShapes[2];
    if (bias && (bias.length !== 1 || bias[0] !== w[0])) throw new ShapeError(`${args.label}: bias [${bias}] must be [${w[0]}]`);
    return { attributes: { ...args.attributes, strides, pads, dilations, group }, outputShapes: [out] };
  },
  forward: (ctx, [x, w, bias], node) => {
    const a = node.attributes as { strides: number[]; pads: number[]; dilations: number[]; group: number };
    const out = conv2d(ctx, x!, w!, {
      bias: bias ?? undefined,
      strides: a.strides as [number, number],
      pads: a.pads as [number, number, number, number],
      dilations: a.dilations as [number, number],
      groups: a.group,
    });
    return { outputs: [out] };
  },
};

// Derivatives (reverse mode) of the ops above; the registry below pairs each forward with its derivative.

const batchCount = (t: GpuTensor): number => t.shape.slice(0, -2).reduce((a, b) => a * b, 1);

// Y = A @ B (batched over leading axes; a side with one batch broadcasts):
//   dA = dY @ Bᵀ,  dB = Aᵀ @ dY,  each summed over the batches it was broadcast across.
const matmulVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [a, b] = [input(v, 0), input(v, 1)];
  if (a.shape.length < 2 || b.shape.length < 2)
    throw new ShapeError(`MatMul ${v.node.name}: 1-D operands are not differentiated ([${a.shape}] @ [${b.shape}])`);
  let da: GpuTensor | null = null;
  let db: GpuTensor | null = null;
  if (v.needs[0]) da = unbroadcast(v.ctx, matmulKernel(v.ctx, dy, b, { transposeB: true }), a.shape);
  if (v.needs[1]) {
    if (batchCount(b) === 1 && batchCount(a) > 1) {
      // Shared weight: fold the batch into the rows, one [K, M'] @ [M', N] product.
      const [k, n] = b.shape.slice(-2);
      const rows = a.size / k;
      const product = matmulKernel(v.ctx, a.reshape([rows, k]), dy.reshape([rows, n]), { transposeA: true });
      db = copyOf(v.ctx, product, b.shape);
      product.release();
    } else {
      db = unbroadcast(v.ctx, matmulKernel(v.ctx, a, dy, { transposeA: true }), b.shape);
    }
  }
  return [da, db];
};

// Y = alpha op(A) op(B) + beta C, op = optional transpose (A, B 2-D):
//   dA = alpha dY op(B)ᵀ (transposed back when transA), dB = alpha op(A)ᵀ dY (likewise), dC = beta dY.
const gemmVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [a, b] = [input(v, 0), input(v, 1)];
  const alpha = floatAttributeOf(v.node, 'alpha', 1);
  const beta = floatAttributeOf(v.node, 'beta', 1);
  const transA = intAttributeOf(v.node, 'transA', 0) === 1;
  const transB = intAttributeOf(v.node, 'transB', 0) === 1;
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError(`Gemm ${v.node.name}: operands must be 2-D, got [${a.shape}] and [${b.shape}]`);
  const da = !v.needs[0]
    ? null
    : transA
      ? matmulKernel(v.ctx, b, dy, { transposeA: transB, transposeB: true, alpha })
      : matmulKernel(v.ctx, dy, b, { transposeB: !transB, alpha });
  const db = !v.needs[1]
    ? null
    : transB
      ? matmulKernel(v.ctx, dy, a, { transposeA: true, transposeB: transA, alpha })
      : matmulKernel(v.ctx, a, dy, { transposeA: !transA, alpha });
  let dc: GpuTensor | null = null;
  if (v.needs[2]) dc = unbroadcast(v.ctx, affine(v.ctx, dy, beta, 0), input(v, 2).shape);
  return [da, db, dc];
};

/** The geometry of a 2-D, group-1 ONNX Conv from its attributes and operand shapes. */
export function conv2dGeometry(v: VjpContext, x: GpuTensor, w: GpuTensor): Conv2dGeometry {
  const where = `Conv ${v.node.name}`;
  if (x.shape.length !== 4 || w.shape.length !== 4) throw new ShapeError(`${where}: only 2-D convolutions are differentiated (x [${x.shape}], W [${w.shape}])`);
  if (intAttributeOf(v.node, 'group', 1) !== 1) throw new ShapeError(`${where}: grouped convolutions are not differentiated`);
  const autoPad = stringAttributeOf(v.node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET') throw new ShapeError(`${where}: auto_pad ${autoPad} is not supported; export explicit pads`);
  const [batch, channels, height, width] = x.shape;
  if (w.shape[1] !== channels) throw new ShapeError(`${where}: W [${w.shape}] does not take ${channels} channels`);
  const pair = (name: string, fallback: number): [number, number] => {
    const values = intsAttributeOf(v.node, name) ?? [fallback, fallback];
    return [values[0], values[1]];
  };
  const pads = intsAttributeOf(v.node, 'pads') ?? [0, 0, 0, 0];
  return {
    batch,
    channels,
    height,
    width,
    kernel: [w.shape[2], w.shape[3]],
    strides: pair('strides', 1),
    dilations: pair('dilations', 1),
    pads: [pads[0], pads[1], pads[2], pads[3]],
  };
}

// Y = W * X + B (2-D cross-correlation), as a product with im2col columns: Y_n = W2 @ col(X_n)
// with W2 = W viewed [OC, C*KH*KW]. Hence
//   dX = col2im(W2ᵀ @ dY_n)  (the transposed convolution),
//   dW = sum_n dY_n @ col(X_n)ᵀ,   dB = sum of dY over n, y, x.
const convVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [x, w] = [input(v, 0), input(v, 1)];
  const g = conv2dGeometry(v, x, w);
  const [oh, ow] = convOutputSize(g);
  const outChannels = w.shape[0];
  const taps = g.channels * g.kernel[0] * g.kernel[1];
  if (dy.shape.join() !== [g.batch, outChannels, oh, ow].join())
    throw new ShapeError(`Conv ${v.node.name}: dY [${dy.shape}] does not match the output [${[g.batch, outChannels, oh, ow]}]`);
  const dy3 = dy.reshape([g.batch, outChannels, oh * ow]);
  const w2 = w.reshape([outChannels, taps]);
  let dx: GpuTensor | null = null;
  if (v.needs[0]) {
    const columns = matmul(v.ctx, w2, dy3, { transposeA: true });
    dx = col2im(v.ctx, columns, g);
    columns.release();
  }
  let dw: GpuTensor | null = null;
  if (v.needs[1]) {
    const columns = im2col(v.ctx, x, g);
    const perImage = matmul(v.ctx, dy3, columns, { transposeB: true });
    columns.release();
    if (g.batch === 1) {
      dw = copyOf(v.ctx, perImage, w.shape);
    } else {
      dw = v.ctx.empty(w.shape, perImage.dtype === 'f16' ? 'f16' : 'f32');
      reduce(v.ctx, 'sum', perImage, { axis: 0, out: dw });
    }
    perImage.release();
  }
  let db: GpuTensor | null = null;
  if (v.needs[2]) {
    const summed = sumToShape(v.ctx, dy3, [1, outChannels, 1]);
    db = copyOf(v.ctx, summed, input(v, 2).shape);
    summed.release();
  }
  return [dx, dw, db];
};

export const LINEAR_OPS: Record<string, Op> = {
  MatMul: { ...MatMul, backward: matmulVjp },
  Gemm: { ...Gemm, backward: gemmVjp },
  Conv: { ...Conv, backward: convVjp },
};
