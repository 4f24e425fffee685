import { ShapeError } from '../../util/errors.ts';
import { loraBackward, type LoraFactors } from '../lora.ts';
import { copyOf, floatAttribute, gradOf, input } from './util.ts';
import type { OpRule } from './types.ts';

/** The op parameters.ts inserts after an adapted MatMul: inputs [x, y, A, B], attribute alpha. */
export const LORA_OP = 'LetheLora';

// y_l = y + s (x Aᵀ) Bᵀ:  dy = dy_l,  dx = s dy_l B A,  dB = s dy_lᵀ (x Aᵀ),  dA = s (dy_l B)ᵀ x
export const lora: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [x, , a, b] = [input(v, 0), null, input(v, 2), input(v, 3)];
    const alpha = floatAttribute(v.node, 'alpha', Number.NaN);
    if (!Number.isFinite(alpha)) throw new ShapeError(`${LORA_OP} ${v.node.name}: attribute alpha is missing`);
    const factors: LoraFactors = { a, b, alpha };
    const { da, db, dx } = loraBackward(v.ctx, x, dy, factors, { inputGradient: v.needs[0] });
    return [dx ?? null, v.needs[1] ? copyOf(v.ctx, dy, input(v, 1).shape) : null, v.needs[2] ? da : (da.release(), null), v.needs[3] ? db : (db.release(), null)];
  },
};
