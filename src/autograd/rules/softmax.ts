import { binary } from '../../gpu/kernels/binary.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { gradOf, intAttribute, output } from './util.ts';
import type { OpRule } from './types.ts';

// y = softmax(x, axis):  dx = y * (dy - sum(dy * y, axis))
export const softmax: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const y = output(v, 0);
    const axis = intAttribute(v.node, 'axis', -1);
    const product = binary(v.ctx, 'mul', dy, y);
    const sum = reduce(v.ctx, 'sum', product, { axis, keepdims: true });
    product.release();
    const centred = binary(v.ctx, 'sub', dy, sum);
    sum.release();
    const dx = binary(v.ctx, 'mul', centred, y);
    centred.release();
    return [dx];
  },
};
