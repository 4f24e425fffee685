/**
 * Elementwise ops. Binary ops broadcast (numpy), so each operand's gradient is summed back
 * down to its own shape (`unbroadcast`).
 */
import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import { affine, unary } from '../../gpu/kernels/unary.ts';
import { where } from '../../gpu/kernels/where.ts';
import { copyOf, gradOf, input, output, unbroadcast } from './util.ts';
import type { OpRule, VjpContext } from './types.ts';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** Product of two tensors, releasing the first when it was a temporary. */
function times(v: VjpContext, a: GpuTensor, b: GpuTensor, releaseA: boolean): GpuTensor {
  const out = binary(v.ctx, 'mul', a, b);
  if (releaseA) a.release();
  return out;
}

// y = a + b:  da = dy, db = dy (each summed over its broadcast axes)
export const add: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    return [0, 1].map((i) => (v.needs[i] ? unbroadcast(v.ctx, copyOf(v.ctx, dy), input(v, i).shape) : null));
  },
};

// y = a - b:  da = dy, db = -dy
export const sub: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    return [
      v.needs[0] ? unbroadcast(v.ctx, copyOf(v.ctx, dy), input(v, 0).shape) : null,
      v.needs[1] ? unbroadcast(v.ctx, affine(v.ctx, dy, -1, 0), input(v, 1).shape) : null,
    ];
  },
};

// y = a * b:  da = dy * b, db = dy * a
export const mul: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [a, b] = [input(v, 0), input(v, 1)];
    return [
      v.needs[0] ? unbroadcast(v.ctx, binary(v.ctx, 'mul', dy, b), a.shape) : null,
      v.needs[1] ? unbroadcast(v.ctx, binary(v.ctx, 'mul', dy, a), b.shape) : null,
    ];
  },
};

// y = a / b:  da = dy / b, db = -(dy / b) * y
export const div: OpRule = {
  backward: (v, grads) => {
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
  },
};

// y = x ^ p, p a constant:  dx = dy * p * x^(p - 1)  (computed on the GPU from p itself)
export const pow: OpRule = {
  backward: (v, grads) => {
    if (v.needs[1]) throw new ShapeError(`Pow ${v.node.name}: gradients reach only the base; the exponent must be a constant`);
    if (!v.needs[0]) return [null, null];
    const dy = gradOf(v, grads);
    const [x, p] = [input(v, 0), input(v, 1)];
    const pMinusOne = affine(v.ctx, p, 1, -1);
    const power = binary(v.ctx, 'pow', x, pMinusOne);
    pMinusOne.release();
    const scaled = times(v, power, p, true);
    return [unbroadcast(v.ctx, times(v, scaled, dy, true), x.shape), null];
  },
};

// y = sqrt(x):  dx = dy * 0.5 / y
export const sqrt: OpRule = {
  backward: (v, grads) => {
    const quotient = binary(v.ctx, 'div', gradOf(v, grads), output(v, 0));
    const out = affine(v.ctx, quotient, 0.5, 0);
    quotient.release();
    return [out];
  },
};

// y = erf(x):  dx = dy * 2/sqrt(pi) * exp(-x^2)
export const erf: OpRule = {
  backward: (v, grads) => {
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
  },
};

// y = sigmoid(x):  dx = dy * y * (1 - y)
export const sigmoid: OpRule = {
  backward: (v, grads) => {
    const y = output(v, 0);
    const oneMinus = affine(v.ctx, y, -1, 1);
    const slope = times(v, oneMinus, y, true);
    return [times(v, slope, gradOf(v, grads), true)];
  },
};

// y = exp(x):  dx = dy * y
export const exp: OpRule = {
  backward: (v, grads) => [binary(v.ctx, 'mul', gradOf(v, grads), output(v, 0))],
};

// y = sin(x):  dx = dy * cos(x)
export const sin: OpRule = {
  backward: (v, grads) => [times(v, unary(v.ctx, 'cos', input(v, 0)), gradOf(v, grads), true)],
};

// y = cos(x):  dx = -dy * sin(x)
export const cos: OpRule = {
  backward: (v, grads) => {
    const product = times(v, unary(v.ctx, 'sin', input(v, 0)), gradOf(v, grads), true);
    const out = affine(v.ctx, product, -1, 0);
    product.release();
    return [out];
  },
};

// y = x (Identity, or Cast between float types):  dx = dy
export const identity: OpRule = {
  backward: (v, grads) => {
    const x = input(v, 0);
    if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`${v.node.opType} ${v.node.name}: no gradient through a cast from ${x.dtype}`);
    const dy = gradOf(v, grads);
    if (dy.dtype !== x.dtype) throw new ShapeError(`${v.node.opType} ${v.node.name}: casts between f16 and f32 are not differentiated (${x.dtype} -> ${dy.dtype})`);
    return [copyOf(v.ctx, dy)];
  },
};

// y = cond ? a : b, cond constant:  da = cond ? dy : 0, db = cond ? 0 : dy
export const whereRule: OpRule = {
  backward: (v, grads) => {
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
  },
};

// y = expand(x, shape):  dx = dy summed over the broadcast axes
export const expand: OpRule = {
  backward: (v, grads) => [unbroadcast(v.ctx, copyOf(v.ctx, gradOf(v, grads)), input(v, 0).shape), null],
};
