/**
 * Fused attention: the forge's exported pattern
 *   Softmax(MatMul(Mul(q, c_q), Mul(kᵀ, c_k)), axis=-1) -> MatMul(., v)
 * becomes one `LetheAttention` node (inputs q [B, H, Nq, D], kᵀ [B, H, D, Nk], v [B, H, Nk, D];
 * attribute scale = c_q c_k) that never materializes the [B, H, Nq, Nk] scores.
 */
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { attentionBackward, attentionForward } from '../../gpu/kernels/attention.ts';
import { floatAttributeOf, gradOf, input, output } from './vjp-helpers.ts';
import type { GraphNode, Op, VjpRule } from './op.ts';

export const FUSED_ATTENTION_OP = 'LetheAttention';

/**
 * Forward of a LetheAttention node (fits op-types.ts ForwardFn): outputs [out], saved
 * [log-sum-exp of each score row, [B * H * Nq] f32] for the recomputing backward.
 */
export function fusedAttentionForward(ctx: GpuContext, inputs: readonly (GpuTensor | null)[], node: GraphNode): { outputs: GpuTensor[]; saved: GpuTensor[] } {
  const [q, kT, v] = inputs;
  if (!q || !kT || !v) throw new ShapeError(`${FUSED_ATTENTION_OP} ${node.name}: needs inputs q, kᵀ, v`);
  const scale = floatAttributeOf(node, 'scale', Number.NaN);
  const { out, logSumExp } = attentionForward(ctx, { q, k: kT, v, scale, keysTransposed: true });
  return { outputs: [out], saved: [logSumExp] };
}

// O = softmax(scale q kᵀ) v: dQ, dKᵀ, dV by the recomputing kernels (attention-backward-*.wgsl)
const fusedAttentionVjp: VjpRule = (v, grads) => {
  const logSumExp = v.saved?.[0];
  if (!logSumExp) throw new ShapeError(`${FUSED_ATTENTION_OP} ${v.node.name}: the tape lacks the saved log-sum-exp`);
  const operands = { q: input(v, 0), k: input(v, 1), v: input(v, 2), scale: floatAttributeOf(v.node, 'scale', Number.NaN), keysTransposed: true };
  const { dq, dk, dv } = attentionBackward(v.ctx, operands, { out: output(v, 0), logSumExp }, gradOf(v, grads));
  const result = [dq, dk, dv].map((g, i) => (v.needs[i] ? g : (g.release(), null)));
  return result;
};

/** The fused op: forward and backward in one entry (graph-rewrites.ts fuseAttention creates its nodes). */
export const ATTENTION_OPS: Record<string, Op> = { [FUSED_ATTENTION_OP]: { forward: fusedAttentionForward, backward: fusedAttentionVjp } };

export interface AttentionMatch {
  /** The five nodes the fused node replaces (Mul, Mul, MatMul, Softmax, MatMul). */
  replaced: GraphNode[];
  fused: GraphNode;
}

/**
 * Finds every attention pattern in `nodes`. `constant` gives a tensor's value when it is a
 * constant (initializer or folded); the two scale factors must be scalars. Intermediates must
 * have no other consumers and must not be graph outputs (then the fusion would hide them).
 */
export function matchAttention(
  nodes: readonly GraphNode[],
  constant: (tensor: string) => readonly number[] | undefined,
  graphOutputs: ReadonlySet<string> = new Set(),
): AttentionMatch[] {
  const producer = new Map<string, GraphNode>();
  const consumers = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    for (const name of node.outputs) producer.set(name, node);
    for (const name of node.inputs) if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);
  }
  const private_ = (name: string): boolean => (consumers.get(name)?.length ?? 0) === 1 && !graphOutputs.has(name);
  const scaled = (name: string): { source: string; factor: number; node: GraphNode } | null => {
    const node = producer.get(name);
    if (node?.opType !== 'Mul' || !private_(name)) return null;
    for (const [valueAt, sourceAt] of [
      [1, 0],
      [0, 1],
    ] as const) {
      const value = constant(node.inputs[valueAt]);
      if (value?.length === 1 && constant(node.inputs[sourceAt]) === undefined) return { source: node.inputs[sourceAt], factor: value[0], node };
    }
    return null;
  };
  const matches: AttentionMatch[] = [];
  for (const softmax of nodes) {
    if (softmax.opType !== 'Softmax') continue;
    const axis = softmax.attributes.axis ?? -1;
    if (axis !== -1 && axis !== 3) continue;
    const scores = producer.get(softmax.inputs[0]);
    if (scores?.opType !== 'MatMul' || !private_(softmax.inputs[0])) continue;
    const q = scaled(scores.inputs[0]);
    const k = scaled(scores.inputs[1]);
    if (!q || !k) continue;
    const weights = softmax.outputs[0];
    const users = consumers.get(weights) ?? [];
    const mix = users[0];
    if (users.length !== 1 || mix.opType !== 'MatMul' || mix.inputs[0] !== weights || graphOutputs.has(weights)) continue;
    matches.push({
      replaced: [q.node, k.node, scores, softmax, mix],
      fused: {
        opType: FUSED_ATTENTION_OP,
        name: `${mix.name || softmax.name}/fused_attention`,
        inputs: [q.source, k.source, mix.inputs[1]],
        outputs: [mix.outputs[0]],
        attributes: { scale: q.factor * k.factor },
      },
    });
  }
  return matches;
}
