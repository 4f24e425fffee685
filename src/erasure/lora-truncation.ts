/**
 * Truncated SVD of a low-rank delta given as factors (up @ down), for exporting a LoRA at a
 * chosen rank. The delta is never formed: with up = Q1 R1 and down^T = Q2 R2,
 *   up @ down = Q1 (R1 R2^T) Q2^T,
 * so the SVD of the small r x r core R1 R2^T = Uk S Vk^T gives the SVD of the delta,
 * (Q1 Uk) S (Q2 Vk)^T, exactly. Keeping the top k values is the best rank-k approximation
 * in Frobenius norm (Eckart-Young), with relative error sqrt(sum_{i>=k} s_i^2 / sum s_i^2).
 */
import { InputError } from '../util/errors.ts';
import type { LowRankUpdate } from './closed-form.ts';
import { thinQr } from './linalg/gram-schmidt-qr.ts';
import { jacobiSvd } from './linalg/jacobi-svd.ts';

export interface TruncatedLora extends LowRankUpdate {
  /** All singular values of up @ down, descending (length = the input rank). */
  readonly singularValues: Float64Array;
  /** |delta - up_k @ down_k|_F / |delta|_F (0 for a zero delta). */
  readonly relativeError: number;
}

/**
 * Rank-`targetRank` factors of `lora.up @ lora.down`. The singular values are split evenly,
 * up = Q1 Uk sqrt(S), down = sqrt(S) Vk^T Q2^T, so neither factor carries the whole scale
 * (better for fp16 export).
 */
export function truncateLora(lora: LowRankUpdate, targetRank: number): TruncatedLora {
  const { outFeatures: out, inFeatures: inF, rank: r, up, down } = lora;
  if (!Number.isInteger(r) || r <= 0) throw new InputError(`truncateLora: rank: expected a positive integer, got ${r}`);
  if (up.length !== out * r) throw new InputError(`truncateLora: up: expected ${out}x${r} values, got ${up.length}`);
  if (down.length !== r * inF) throw new InputError(`truncateLora: down: expected ${r}x${inF} values, got ${down.length}`);
  if (!Number.isInteger(targetRank) || targetRank < 1 || targetRank > r)
    throw new InputError(`truncateLora: targetRank: expected an integer in [1, ${r}] (the LoRA's rank), got ${targetRank}`);

  const left = thinQr(up, out, r);
  const downT = new Float64Array(inF * r);
  for (let k = 0; k < r; k++) for (let j = 0; j < inF; j++) downT[j * r + k] = down[k * inF + j];
  const right = thinQr(downT, inF, r);

  // core = R1 R2^T
  const core = new Float64Array(r * r);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += left.r[i * r + k] * right.r[j * r + k];
      core[i * r + j] = sum;
    }
  const svd = jacobiSvd(core, r, r);

  let total = 0;
  let dropped = 0;
  for (let k = 0; k < r; k++) {
    const squared = svd.values[k] * svd.values[k];
    total += squared;
    if (k >= targetRank) dropped += squared;
  }
  const relativeError = total > 0 ? Math.sqrt(dropped / total) : 0;

  const kept = targetRank;
  const upOut = new Float32Array(out * kept);
  for (let o = 0; o < out; o++)
    for (let c = 0; c < kept; c++) {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += left.q[o * r + k] * svd.u[k * r + c];
      upOut[o * kept + c] = sum * Math.sqrt(svd.values[c]);
    }
  const downOut = new Float32Array(kept * inF);
  for (let c = 0; c < kept; c++) {
    const root = Math.sqrt(svd.values[c]);
    for (let j = 0; j < inF; j++) {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += right.q[j * r + k] * svd.v[k * r + c];
      downOut[c * inF + j] = sum * root;
    }
  }
  return { outFeatures: out, inFeatures: inF, rank: kept, up: upOut, down: downOut, singularValues: svd.values, relativeError };
}
