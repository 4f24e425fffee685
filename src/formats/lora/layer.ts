/**
 * One low-rank weight update of a linear layer W [out, in]:
 *   W' = W + (alpha / rank) * up @ down,  down [rank, in], up [out, rank] (row-major).
 */
export interface LoraLayerDelta {
  /** Diffusers module path without the `unet.` prefix, e.g. `mid_block.attentions.0.transformer_blocks.0.attn2.to_k`. */
  readonly module: string;
  /** [rank, inFeatures], row-major. */
  readonly down: Float32Array;
  /** [outFeatures, rank], row-major. */
  readonly up: Float32Array;
  readonly rank: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** scale = alpha / rank; alpha = rank means the update is exactly up @ down. */
  readonly alpha: number;
}

/** A full weight difference W' - W [out, in] for one module (kohya `.diff` keys). */
export interface LoraFullDiff {
  readonly module: string;
  readonly diff: Float32Array;
  readonly outFeatures: number;
  readonly inFeatures: number;
}

export function loraScale(layer: Pick<LoraLayerDelta, 'alpha' | 'rank'>): number {
  return layer.alpha / layer.rank;
}
