import { expandTo } from '../../gpu/kernels/layout-copy.ts';
import { affine } from '../../gpu/kernels/unary.ts';
import { copyOf, gradOf, input, intAttribute, intsFromAttributeOrInput, normalizeAxisFor } from './util.ts';
import type { OpRule } from './types.ts';

// y = mean(x, axes):  dx = dy / n broadcast back over the reduced axes (n their element count)
export const reduceMean: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const x = input(v, 0);
    const listed = intsFromAttributeOrInput(v, 'axes', 1) ?? [];
    if (listed.length === 0 && intAttribute(v.node, 'noop_with_empty_axes', 0) === 1) return [copyOf(v.ctx, dy), null];
    const axes = listed.length === 0 ? x.shape.map((_, i) => i) : listed.map((a) => normalizeAxisFor(v, a, x.shape.length));
    const kept = x.shape.map((dim, i) => (axes.includes(i) ? 1 : dim));
    const n = axes.reduce((acc, a) => acc * x.shape[a], 1);
    // Scaling before the broadcast touches n times fewer elements.
    const scaled = affine(v.ctx, dy.reshape(kept), 1 / n, 0);
    const dx = expandTo(v.ctx, scaled, x.shape);
    scaled.release();
    return [dx, null];
  },
};
