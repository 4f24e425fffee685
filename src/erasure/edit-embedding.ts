/**
 * The closed-form edit applied where it is cheapest: to the text embedding, once per prompt.
 * For every cross-attention projection W the edited weight is W' = W M, so
 *   K = E W'^T = E M^T W^T = (E M^T) W^T,
 * and the UNet runner computes K_l = E' W_l^T, V_l = E' W_l^T for all 32 projections from ONE
 * edited embedding E' = E M^T = E + (E V) U^T, leaving every weight untouched.
 *
 * This is exact only because every projection shares M, which holds for the closed form (M
 * does not depend on W; one solve serves to_k and to_v of every block). It does NOT hold for a
 * trained LoRA or per-layer scales: those need per-layer deltas (K = E W^T + (E down^T) up^T).
 */
import type { GpuContext } from '../gpu/context.ts';
import { matmul } from '../gpu/kernels/matmul.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { InputError } from '../util/errors.ts';
import type { EditOperator, Vector } from './closed-form.ts';

/** E' = E M^T = E + (E V) U^T for E (tokens x d, row-major), in float64 inside, low rank (2 tokens d n_e). */
export function editTextEmbedding(operator: EditOperator, embedding: Vector, tokens: number): Float32Array {
  const { width: d, rank, u, vt } = operator;
  if (!Number.isInteger(tokens) || tokens <= 0) throw new InputError(`editTextEmbedding: tokens: expected a positive integer, got ${tokens}`);
  if (embedding.length !== tokens * d)
    throw new InputError(`editTextEmbedding: embedding: expected [${tokens}, ${d}] (${tokens * d} values), got ${embedding.length}`);
  // U^T rows keep the inner loop contiguous.
  const ut = new Float64Array(rank * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < rank; k++) ut[k * d + i] = u[i * rank + k];
  const out = new Float32Array(tokens * d);
  const row = new Float64Array(d);
  for (let t = 0; t < tokens; t++) {
    const base = t * d;
    for (let i = 0; i < d; i++) row[i] = embedding[base + i];
    for (let k = 0; k < rank; k++) {
      let coefficient = 0;
      for (let i = 0; i < d; i++) coefficient += vt[k * d + i] * embedding[base + i];
      for (let i = 0; i < d; i++) row[i] += coefficient * ut[k * d + i];
    }
    out.set(row, base);
  }
  return out;
}

/** M^T (d x d, row-major, float64): M^T[j][i] = [i = j] + sum_k V^T[k][j] U[i][k]. */
export function editOperatorTranspose(operator: EditOperator): Float64Array {
  const { width: d, rank, u, vt } = operator;
  const ut = new Float64Array(rank * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < rank; k++) ut[k * d + i] = u[i * rank + k];
  const mt = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const row = j * d;
    mt[row + j] = 1;
    for (let k = 0; k < rank; k++) {
      const coefficient = vt[k * d + j];
      if (coefficient === 0) continue;
      for (let i = 0; i < d; i++) mt[row + i] += coefficient * ut[k * d + i];
    }
  }
  return mt;
}

/**
 * The edit on the GPU: M^T uploaded once per edit (float32, rounded once from float64), then
 * one matmul per prompt. Dense (tokens d^2 multiply-adds, 45 M for 77 x 768: microseconds on
 * a real GPU) because the low-rank form E + (E V) U^T needs an elementwise add that our
 * committed kernels do not have yet; swap in `E + matmul(matmul(E, V), U^T)` once they do.
 */
export class GpuEmbeddingEdit {
  private constructor(
    private readonly ctx: GpuContext,
    readonly width: number,
    private readonly transposed: GpuTensor,
  ) {}

  static create(ctx: GpuContext, operator: EditOperator): GpuEmbeddingEdit {
    return new GpuEmbeddingEdit(ctx, operator.width, ctx.upload(editOperatorTranspose(operator), [operator.width, operator.width]));
  }

  /** E' = E M^T for E [tokens, d] (or [batch, tokens, d]) on the GPU; recorded, not synced. */
  apply(embedding: GpuTensor, out?: GpuTensor): GpuTensor {
    const d = this.width;
    if (embedding.shape.length < 2 || embedding.shape[embedding.shape.length - 1] !== d)
      throw new InputError(`editTextEmbedding: embedding: expected [tokens, ${d}], got [${embedding.shape}]`);
    return matmul(this.ctx, embedding, this.transposed, out ? { out } : {});
  }

  release(): void {
    this.transposed.release();
  }
}
