/** Elementwise ops: binary with broadcasting, unary, Where, and the dtype-only Cast/Identity. */
import { binary, type BinaryOp } from '../../gpu/kernels/binary.ts';
import { broadcastShapes } from '../../gpu/kernels/broadcast.ts';
import { unary, type UnaryOp, affine } from '../../gpu/kernels/unary.ts';
import { where } from '../../gpu/kernels/where.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import type { Op, VjpRule, VjpContext } from './op.ts';
import { requireShape } from './prepare-helpers.ts';
import { ShapeError } from '../../util/errors.ts';
import { copyOf, gradOf, input, output, unbroadcast } from './vjp-helpers.ts';

function binarySpec(op: BinaryOp): Op {
  return {
    prepare: (args) => ({ attributes: args.attributes, outputShapes: [broadcastShapes(args.label, requireShape(args, 0), requireShape(args, 1))] }),
    forward: (ctx, [a, b]) => ({ outputs: [binary(ctx, op, a!, b!)] }),
  };
}

function unarySpec(op: UnaryOp): Op {
  return {
    prepare: (args) => ({ attributes: args.attributes, outputShapes: [requireShape(args, 0)] }),
    forward: (ctx, [x]) => ({ outputs: [unary(ctx, op, x!)] }),
  };
}

/**
 * Same values, same storage: runtime integers live as f32 (exact below 2^24; timesteps are
 * far below), and fp16 packs are computed in f32, so every Cast the executor meets between
 * runtime tensors is a view. Casts to integer or bool of runtime floats are refused at load.
 */
const view: Op = {
  prepare: (args) => ({ attributes: args.attributes, outputShapes: [requireShape(args, 0)] }),
  forward: (_ctx, [x]) => ({ outputs: [(x as GpuTensor).reshape(x!.shape)] }),
};

// Derivatives (reverse mode) of the ops above; the registry below pairs each forward with its derivative.

// Elementwise ops. Binary ops broadcast (numpy), so each operand's gradient is summed back
// down to its own shape (`unbroadcast`).
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** Product of two tensors, releasing the first when it was a temporary. */
function times(v: VjpContext, a: GpuTensor, b: GpuTensor, releaseA: boolean): GpuTensor {
  const out = binary(v.ctx, 'mul', a, b);
  if (releaseA) a.release();
  return out;
}

// y = a + b:  da = dy, db = dy (each summed over its broadcast axes)
const addVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  return [0, 1].map((i) => (v.needs[i] ? unbroadcast(v.ctx, copyOf(v.ctx, dy), input(v, i).shape) : null));
};

// y = a - b:  da = dy, db = -dy
const subVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  return [
    v.needs[0] ? unbroadcast(v.ctx, copyOf(v.ctx, dy), input(v, 0).shape) : null,
    v.needs[1] ? unbroadcast(v.ctx, affine(v.ctx, dy, -1, 0), input(v, 1).shape) : null,
  ];
};

// y = a * b:  da = dy * b, db = dy * a
const mulVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [a, b] = [input(v, 0), input(v, 1)];
  return [
    v.needs[0] ? unbroadcast(v.ctx, binary(v.ctx, 'mul', dy, b), a.shape) : null,
    v.needs[1] ? unbroadcast(v.ctx, binary(v.ctx, 'mul', dy, a), b.shape) : null,
  ];
};

// y = a / b:  da = dy / b, db = -(dy / b) * y
const divVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [a, b] = [input(v, 0), input(v, 1)];
  const quotient = binary(v.ctx, 'div', dy, b);
  let db: GpuTensor | null = null;
  if (v.needs[1]) {
    const y = v.outputs[0] ?? binary(v.ctx, 'div', a, b);
    const product = binary(v.ctx, 'mul', quotient, y);
    if (y !== v.outputs[0]) y.release();
    db = unbroadcast(v.ctx, affine(v.ctx, product, -1, 0), b.shape);
    product.release();
  }
  const da = v.needs[0] ? unbroadcast(v.ctx, quotient, a.shape) : (quotient.release(), null);
  return [da, db];
};

// y = x ^ p, p a constant:  dx = dy * p * x^(p - 1)  (computed on the GPU from p itself)
const powVjp: VjpRule = (v, grads) => {
  if (v.needs[1]) throw new ShapeError(`Pow ${v.node.name}: gradients reach only the base; the exponent must be a constant`);
  if (!v.needs[0]) return [null, null];
  const dy = gradOf(v, grads);
  const [x, p] = [input(v, 0), input(v, 1)];
  const pMinusOne = affine(v.ctx, p, 1, -1);
  const power = binary(v.ctx, 'pow', x, pMinusOne);
  pMinusOne.release();
  const scaled = times(v, power, p, true);
  return [unbroadcast(v.ctx, times(v, scaled, dy, true), x.shape), null];
};

// y = sqrt(x):  dx = dy * 0.5 / y
const sqrtVjp: VjpRule = (v, grads) => {
  const quotient = binary(v.ctx, 'div', gradOf(v, grads), output(v, 0));
  const out = affine(v.ctx, quotient, 0.5, 0);
  quotient.release();
  return [out];
};

// y = erf(x):  dx = dy * 2/sqrt(pi) * exp(-x^2)
const erfVjp: VjpRule = (v, grads) => {
  const x = input(v, 0);
  const square = binary(v.ctx, 'mul', x, x);
  const negated = affine(v.ctx, square, -1, 0);
  square.release();
  const gaussian = unary(v.ctx, 'exp', negated);
  negated.release();
  const product = times(v, gaussian, gradOf(v, grads), true);
  const out = affine(v.ctx, product, TWO_OVER_SQRT_PI, 0);
  product.release();
  return [out];
};

// y = sigmoid(x):  dx = dy * y * (1 - y)
const sigmoidVjp: VjpRule = (v, grads) => {
  const y = output(v, 0);
  const oneMinus = affine(v.ctx, y, -1, 1);
  const slope = times(v, oneMinus, y, true);
  return [times(v, slope, gradOf(v, grads), true)];
};

// y = exp(x):  dx = dy * y
const expVjp: VjpRule = (v, grads) => [binary(v.ctx, 'mul', gradOf(v, grads), output(v, 0))];

// y = sin(x):  dx = dy * cos(x)
const sinVjp: VjpRule = (v, grads) => [times(v, unary(v.ctx, 'cos', input(v, 0)), gradOf(v, grads), true)];

// y = cos(x):  dx = -dy * sin(x)
const cosVjp: VjpRule = (v, grads) => {
  const product = times(v, unary(v.ctx, 'sin', input(v, 0)), gradOf(v, grads), true);
  const out = affine(v.ctx, product, -1, 0);
  product.release();
  return [out];
};

// y = x (Identity, or Cast between float types):  dx = dy
const identityVjp: VjpRule = (v, grads) => {
  const x = input(v, 0);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`${v.node.opType} ${v.node.name}: no gradient through a cast from ${x.dtype}`);
  const dy = gradOf(v, grads);
  if (dy.dtype !== x.dtype)
    throw new ShapeError(`${v.node.opType} ${v.node.name}: casts between f16 and f32 are not differentiated (${x.dtype} -> ${dy.dtype})`);
  return [copyOf(v.ctx, dy)];
};

// y = cond ? a : b, cond constant:  da = cond ? dy : 0, db = cond ? 0 : dy
const whereVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const cond = input(v, 0);
  const zero = v.ctx.upload([0], [1], dy.dtype === 'f16' ? 'f16' : 'f32');
  const result = [
    null,
    v.needs[1] ? unbroadcast(v.ctx, where(v.ctx, cond, dy, zero), input(v, 1).shape) : null,
    v.needs[2] ? unbroadcast(v.ctx, where(v.ctx, cond, zero, dy), input(v, 2).shape) : null,
  ];
  zero.release();
  return result;
};

export const ELEMENTWISE_OPS: Record<string, Op> = {
  Add: { ...binarySpec('add'), backward: addVjp },
  Sub: { ...binarySpec('sub'), backward: subVjp },
  Mul: { ...binarySpec('mul'), backward: mulVjp },
  Div: { ...binarySpec('div'), backward: divVjp },
  Pow: { ...binarySpec('pow'), backward: powVjp },
  Max: binarySpec('max'),
  Min: binarySpec('min'),
  Sqrt: { ...unarySpec('sqrt'), backward: sqrtVjp },
  Erf: { ...unarySpec('erf'), backward: erfVjp },
  Sigmoid: { ...unarySpec('sigmoid'), backward: sigmoidVjp },
  Sin: { ...unarySpec('sin'), backward: sinVjp },
  Cos: { ...unarySpec('cos'), backward: cosVjp },
  Exp: { ...unarySpec('exp'), backward: expVjp },
  Log: unarySpec('log'),
  Tanh: unarySpec('tanh'),
  Relu: unarySpec('relu'),
  Neg: unarySpec('neg'),
  Abs: unarySpec('abs'),
  Reciprocal: unarySpec('reciprocal'),
  Gelu: {
    prepare: (args) => {
      if ((args.attributes.approximate ?? 'none') !== 'none') throw new Error(`${args.label}: only approximate="none" is supported`);
      return { attributes: args.attributes, outputShapes: [requireShape(args, 0)] };
    },
    forward: (ctx, [x]) => ({ outputs: [unary(ctx, 'gelu', x!)] }),
  },
  Where: {
    prepare: (args) => ({
      attributes: args.attributes,
      outputShapes: [broadcastShapes(args.label, requireShape(args, 0), requireShape(args, 1), requireShape(args, 2))],
    }),
    forward: (ctx, [cond, a, b]) => ({ outputs: [where(ctx, cond!, a!, b!)] }),
    backward: whereVjp,
  },
  Cast: { ...view, backward: identityVjp },
  Identity: { ...view, backward: identityVjp },
};
