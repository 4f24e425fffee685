/**
 * LoRA factors on a linear projection y = x Wᵀ (+ bias): y_l = y + s (x Aᵀ) Bᵀ with A [r, in],
 * B [out, r], s = alpha / r. For attn2 to_k / to_v the projection runs outside the piece
 * graphs (K_l = E W_kᵀ + s E Aᵀ Bᵀ on the text embedding E), so the gradients of A and B
 * come from dL/dK_l, which the backward sweep returns for the piece's K/V inputs:
 *   H = E Aᵀ,  dB = s dKᵀ H,  dH = s dK B,  dA = dHᵀ E,  and dE = dK W + dH A.
 * Rows of every leading axis are folded together (one 2-D product each).
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { ShapeError } from '../util/errors.ts';
import { InputError } from '../util/errors.ts';
import { binary } from '../gpu/kernels/binary.ts';
import { matmul } from '../gpu/kernels/matmul.ts';
import { SeededRandom } from '../util/random.ts';

export interface LoraFactors {
  /** [rank, in] (PEFT lora_A, kohya lora_down). */
  a: GpuTensor;
  /** [out, rank] (PEFT lora_B, kohya lora_up). */
  b: GpuTensor;
  alpha: number;
}

export function loraScale(lora: LoraFactors): number {
  return lora.alpha / lora.a.shape[0];
}

function check(where: string, x: GpuTensor, lora: LoraFactors): { rows: number; inFeatures: number; outFeatures: number; rank: number } {
  const [rank, inFeatures] = lora.a.shape;
  const [outFeatures, rankB] = lora.b.shape;
  if (lora.a.shape.length !== 2 || lora.b.shape.length !== 2 || rank !== rankB) throw new ShapeError(`${where}: A [${lora.a.shape}] and B [${lora.b.shape}] must be [r, in] and [out, r]`);
  if (x.shape[x.shape.length - 1] !== inFeatures) throw new ShapeError(`${where}: input [${x.shape}] does not end in A's ${inFeatures} features`);
  if (!Number.isFinite(lora.alpha)) throw new InputError(`${where}: alpha must be finite, got ${lora.alpha}`);
  return { rows: x.size / inFeatures, inFeatures, outFeatures, rank };
}

/** y + s (x Aᵀ) Bᵀ; `y` may be null (the delta alone). Returns a new tensor [..., out]. */
export function loraForward(ctx: GpuContext, x: GpuTensor, y: GpuTensor | null, lora: LoraFactors): GpuTensor {
  const { rows, inFeatures, outFeatures } = check('loraForward', x, lora);
  const outShape = [...x.shape.slice(0, -1), outFeatures];
  if (y && y.size !== rows * outFeatures) throw new ShapeError(`loraForward: base output [${y.shape}] does not match [${outShape}]`);
  const hidden = matmul(ctx, x.reshape([rows, inFeatures]), lora.a, { transposeB: true });
  const delta = matmul(ctx, hidden, lora.b, { transposeB: true, alpha: loraScale(lora) });
  hidden.release();
  if (!y) return copyShaped(ctx, delta, outShape);
  const sum = binary(ctx, 'add', y.reshape([rows, outFeatures]), delta);
  delta.release();
  return copyShaped(ctx, sum, outShape);
}

/** The K/V projection with LoRA: E Wᵀ + s E Aᵀ Bᵀ, W [out, in] in torch layout. */
export function loraProject(ctx: GpuContext, e: GpuTensor, weight: GpuTensor, lora: LoraFactors): GpuTensor {
  const { rows, inFeatures, outFeatures } = check('loraProject', e, lora);
  if (weight.shape.join() !== [outFeatures, inFeatures].join()) throw new ShapeError(`loraProject: W [${weight.shape}] must be [${outFeatures}, ${inFeatures}]`);
  const base = matmul(ctx, e.reshape([rows, inFeatures]), weight, { transposeB: true });
  const out = loraForward(ctx, e, base, lora);
  base.release();
  return out;
}

export interface LoraGradients {
  da: GpuTensor;
  db: GpuTensor;
  /** dL/dx through the LoRA path only (s dK B A); add the base layer's own dx separately. */
  dx?: GpuTensor;
}

/** Gradients of A and B (and optionally x) from dL/dy for y = ... + s (x Aᵀ) Bᵀ. */
export function loraBackward(ctx: GpuContext, x: GpuTensor, dy: GpuTensor, lora: LoraFactors, options: { inputGradient?: boolean } = {}): LoraGradients {
  const { rows, inFeatures, outFeatures } = check('loraBackward', x, lora);
  if (dy.size !== rows * outFeatures) throw new ShapeError(`loraBackward: dy [${dy.shape}] does not match ${rows} rows of ${outFeatures}`);
  const s = loraScale(lora);
  const x2 = x.reshape([rows, inFeatures]);
  const dy2 = dy.reshape([rows, outFeatures]);
  const hidden = matmul(ctx, x2, lora.a, { transposeB: true });
  const db = matmul(ctx, dy2, hidden, { transposeA: true, alpha: s });
  hidden.release();
  const dHidden = matmul(ctx, dy2, lora.b, { alpha: s });
  const da = matmul(ctx, dHidden, x2, { transposeA: true });
  let dx: GpuTensor | undefined;
  if (options.inputGradient) {
    const flat = matmul(ctx, dHidden, lora.a);
    dx = copyShaped(ctx, flat, x.shape);
    flat.release();
  }
  dHidden.release();
  return { da, db, dx };
}

function copyShaped(ctx: GpuContext, t: GpuTensor, shape: readonly number[]): GpuTensor {
  const out = ctx.empty(shape, t.dtype);
  ctx.copy(t, out);
  t.release();
  return out;
}

/**
 * Fresh factors as PEFT initializes them: A ~ N(0, 1/in) (Kaiming-like; seeded), B = 0, so
 * the adapted layer starts equal to the base layer.
 */
export function initLora(ctx: GpuContext, inFeatures: number, outFeatures: number, rank: number, alpha: number, seed: number): LoraFactors {
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(inFeatures, outFeatures)) throw new InputError(`initLora: rank must be an integer in [1, ${Math.min(inFeatures, outFeatures)}], got ${rank}`);
  const a = new SeededRandom(seed).normalArray64(rank * inFeatures, 1 / Math.sqrt(inFeatures));
  return { a: ctx.upload(a, [rank, inFeatures]), b: ctx.upload(new Float32Array(outFeatures * rank), [outFeatures, rank]), alpha };
}
