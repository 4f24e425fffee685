/** LoRA inside a piece graph: y_l = y + s (x Aᵀ) Bᵀ after an adapted MatMul (parameters.ts inserts the nodes). */
import { ShapeError } from '../../util/errors.ts';
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { loraBackward, loraForward, type LoraFactors } from '../lora.ts';
import { copyOf, floatAttributeOf, gradOf, input } from './vjp-helpers.ts';
import type { GraphNode, Op, VjpRule } from './op.ts';

/** The op parameters.ts inserts after an adapted MatMul: inputs [x, y, A, B], attribute alpha. */
export const LORA_OP = 'LetheLora';

/** Forward of a LetheLora node (an op-types.ts ForwardFn). */
export function loraNodeForward(ctx: GpuContext, inputs: readonly (GpuTensor | null)[], node: GraphNode): { outputs: GpuTensor[] } {
  const [x, y, a, b] = inputs;
  if (!x || !y || !a || !b) throw new ShapeError(`${LORA_OP} ${node.name}: needs x, y, A and B`);
  return { outputs: [loraForward(ctx, x, y, { a, b, alpha: floatAttributeOf(node, 'alpha', Number.NaN) })] };
}

// y_l = y + s (x Aᵀ) Bᵀ:  dy = dy_l,  dx = s dy_l B A,  dB = s dy_lᵀ (x Aᵀ),  dA = s (dy_l B)ᵀ x
const loraVjp: VjpRule = (v, grads) => {
  const dy = gradOf(v, grads);
  const [x, , a, b] = [input(v, 0), null, input(v, 2), input(v, 3)];
  const alpha = floatAttributeOf(v.node, 'alpha', Number.NaN);
  if (!Number.isFinite(alpha)) throw new ShapeError(`${LORA_OP} ${v.node.name}: attribute alpha is missing`);
  const factors: LoraFactors = { a, b, alpha };
  const { da, db, dx } = loraBackward(v.ctx, x, dy, factors, { inputGradient: v.needs[0] });
  return [dx ?? null, v.needs[1] ? copyOf(v.ctx, dy, input(v, 1).shape) : null, v.needs[2] ? da : (da.release(), null), v.needs[3] ? db : (db.release(), null)];
};

/** The LoRA op: forward and backward in one entry (graph-rewrites.ts insertLora creates its nodes). */
export const LORA_OPS: Record<string, Op> = { [LORA_OP]: { forward: loraNodeForward, backward: loraVjp } };
