/** MatMul, Gemm and Conv: the ops with weights. */
import { affine } from '../../gpu/kernels/unary.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import { broadcastShapes } from '../../gpu/kernels/broadcast.ts';
import { conv2d, conv2dOutputShape } from '../../gpu/kernels/conv2d.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import { ShapeError } from '../../util/errors.ts';
import type { OpSpec } from './spec.ts';
import { intAttribute, intsAttribute, requireShape, stringAttribute } from './spec.ts';

/**
 * numpy matmul: rank-1 operands get a unit axis (removed from the result), batch axes
 * broadcast. The kernel takes equal batches or one side without (a batch of 1).
 */
const MatMul: OpSpec = {
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
    if (!(countA === 1 || countA === count) || !(countB === 1 || countB === count)) throw new ShapeError(`${args.label}: batch shapes [${batchA}] and [${batchB}] broadcast partly; the kernel takes equal batches or a batch of 1`);
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
const Gemm: OpSpec = {
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
    return { attributes: { ...args.attributes, transA, transB, alpha: (args.attributes.alpha as number | undefined) ?? 1, beta: (args.attributes.beta as number | undefined) ?? 1 }, outputShapes: [[m, n]] };
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
const Conv: OpSpec = {
  prepare: (args) => {
    const x = requireShape(args, 0);
    const w = requireShape(args, 1);
    if (x.length !== 4) throw new ShapeError(`${args.label}: only 2-D convolution (rank-4 input) is supported, got [${x}]`);
    const strides = intsAttribute(args, 'strides') ?? [1, 1];
    const dilations = intsAttribute(args, 'dilations') ?? [1, 1];
    const group = intAttribute(args, 'group', 1);
    const kernelShape = intsAttribute(args, 'kernel_shape');
    if (kernelShape && (kernelShape[0] !== w[2] || kernelShape[1] !== w[3])) throw new ShapeError(`${args.label}: kernel_shape [${kernelShape}] differs from weight [${w}]`);
    const autoPad = stringAttribute(args, 'auto_pad', 'NOTSET');
    let pads = intsAttribute(args, 'pads') ?? [0, 0, 0, 0];
    if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = [0, 1].map((i) => Math.max(0, (Math.ceil(x[2 + i] / strides[i]) - 1) * strides[i] + (w[2 + i] - 1) * dilations[i] + 1 - x[2 + i]));
      const small = total.map((t) => Math.floor(t / 2));
      const large = total.map((t, i) => t - small[i]);
      pads = autoPad === 'SAME_UPPER' ? [small[0], small[1], large[0], large[1]] : [large[0], large[1], small[0], small[1]];
    } else if (autoPad !== 'NOTSET') throw new ShapeError(`${args.label}: auto_pad ${autoPad} is not supported`);
    const options = { strides: strides as [number, number], pads: pads as [number, number, number, number], dilations: dilations as [number, number], groups: group };
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

export const LINEAR_OPS: Record<string, OpSpec> = { MatMul, Gemm, Conv };
