import type { GpuContext } from '../../gpu/context.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import type { CrossAttentionWeights } from './cross-attention-weights.ts';

/** A low-rank change of one projection: W' = W + scale * up @ down ([out, r] x [r, in]). */
export interface LowRankDelta {
  up: GpuTensor;
  down: GpuTensor;
  scale: number;
}

/** Per-layer LoRA deltas, by cross-attention layer index. */
export interface KvDeltas {
  toK: Map<number, LowRankDelta>;
  toV: Map<number, LowRankDelta>;
}

export interface ProjectedKv {
  keys: GpuTensor[];
  values: GpuTensor[];
  release(): void;
}

/**
 * K_l = E W_k,l^T and V_l = E W_v,l^T for every cross-attention layer: the only way the text
 * reaches the UNet, hence the one hook erasure and LoRA need. A closed-form edit arrives as an
 * already transformed embedding (W(Me) = W'e); LoRA deltas add E down^T up^T per layer.
 * Computed once per generation, not per step: the embedding does not change between steps.
 */
export function projectKv(ctx: GpuContext, embedding: GpuTensor, weights: CrossAttentionWeights, deltas?: KvDeltas): ProjectedKv {
  const project = (weight: GpuTensor, delta: LowRankDelta | undefined): GpuTensor => {
    const base = matmul(ctx, embedding, weight, { transposeB: true });
    if (!delta) return base;
    const reduced = matmul(ctx, embedding, delta.down, { transposeB: true });
    const lowRank = matmul(ctx, reduced, delta.up, { transposeB: true, alpha: delta.scale });
    reduced.release();
    const sum = addInto(ctx, base, lowRank);
    lowRank.release();
    return sum;
  };
  const keys = weights.toK.map((w, i) => project(w, deltas?.toK.get(i)));
  const values = weights.toV.map((w, i) => project(w, deltas?.toV.get(i)));
  return {
    keys,
    values,
    release() {
      for (const t of [...keys, ...values]) t.release();
    },
  };
}

function addInto(ctx: GpuContext, base: GpuTensor, addend: GpuTensor): GpuTensor {
  const sum = binary(ctx, 'add', base, addend);
  base.release();
  return sum;
}
