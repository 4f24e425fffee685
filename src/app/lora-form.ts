/** The LoRA panel's fields; pure. */
import type { LoraExportOptions } from '../engine/api.ts';
import { InputError } from '../util/errors.ts';

export interface LoraForm {
  convention: LoraExportOptions['convention'];
  /** As typed: "exact" or a whole number. */
  rank: string;
  dtype: LoraExportOptions['dtype'];
  /** Strength for imported files. */
  strength: number;
}

export const RANK_SUGGESTIONS: readonly string[] = ['exact', '1', '2', '4', '8', '16', '32'];

export function initialLoraForm(): LoraForm {
  return { convention: 'kohya', rank: 'exact', dtype: 'fp16', strength: 1 };
}

/** "exact" (or blank) keeps every erase direction; a whole number >= 1 truncates by SVD. */
export function parseLoraRank(text: string): LoraExportOptions['rank'] {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '' || trimmed === 'exact') return 'exact';
  const rank = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(rank) || rank < 1) throw new InputError(`LoRA rank must be "exact" or a whole number >= 1, got "${text}".`);
  return rank;
}

export function loraExportOptions(form: LoraForm): LoraExportOptions {
  return { convention: form.convention, rank: parseLoraRank(form.rank), dtype: form.dtype };
}
