/**
 * Shared rows: the token vectors of the text encoder's output that no concept is written into,
 * which a closed-form edit should leave where they are:
 *   - every row of the empty prompt (BOS, EOS and padding): classifier-free guidance runs it
 *     through the same edited cross-attention for every image, so moving it moves them all;
 *   - each template's rows before its slot ("a photo of"): the same in a prompt with the concept
 *     and in its anchor prompt, so keeping them never works against the erasure.
 *
 * Why: the edit is one M for all projections (W' = W M). M - I lives in the span of the
 * constraint vectors, so every vector with a component along the erase directions moves too.
 * UCE and RealEra constrain only concept rows; in SD's 768-wide space the other rows are nearly
 * orthogonal to them, but in a narrow one they are not. On the 64-wide concept world, erasing
 * "cat" with the other nine classes retained moved the empty prompt's padding rows by 90% of
 * their norm and its BOS row by 103%; with the shared rows kept, by 14% and 7%. Judged
 * (bench/fine-tune-effect.node.ts, cat with its synonyms as corefs, 4 seeds x 3 evaluation
 * templates): kept classes 0.590 -> 0.901 (original 0.918), dog 0.652 -> 0.879, horse 0.626 ->
 * 0.876, while cat fell further (0.466 -> 0.386). README, "How it works", has the tables.
 */
import type { PromptEmbedding } from './token-selection.ts';

export const SHARED_ROWS_MODES = ['keep', 'free'] as const;
/** 'keep': preserve the shared rows (default for new edits); 'free': constrain concept rows only (UCE/RealEra as published). */
export type SharedRowsMode = (typeof SHARED_ROWS_MODES)[number];

export function isSharedRowsMode(value: unknown): value is SharedRowsMode {
  return (SHARED_ROWS_MODES as readonly unknown[]).includes(value);
}

/** A prompt whose shared rows are wanted: a template written with the empty subject, or the empty prompt itself (whole). */
export interface SharedRowSource {
  readonly embedding: PromptEmbedding;
  /** Every row (the empty prompt); otherwise the rows before the slot. */
  readonly whole: boolean;
}

/**
 * The shared rows of `sources`, in order, each distinct vector once: BOS is the same row in every
 * prompt of a causal encoder and would otherwise weigh once per template.
 */
export function sharedRowVectors(sources: readonly SharedRowSource[]): Float64Array[] {
  const seen = new Set<string>();
  const rows: Float64Array[] = [];
  for (const { embedding, whole } of sources) {
    const end = whole ? embedding.tokens : embedding.subject.start;
    for (let row = 0; row < end; row++) {
      const vector = Float64Array.from(embedding.values.subarray(row * embedding.width, (row + 1) * embedding.width));
      const key = Array.from(new Uint32Array(vector.buffer)).join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(vector);
    }
  }
  return rows;
}
