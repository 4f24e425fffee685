/**
 * Every edit made in this browser, newest first, restorable with one click. Recipe edits are
 * stored (localStorage) and survive a reload; a LoRA file's bytes stay in memory only.
 */
import type { ErasureMethod } from '../erasure/recipe.ts';
import type { EditEntry } from './studio-state.ts';

export interface HistoryItem {
  id: string;
  label: string;
  method: ErasureMethod | 'lora';
  /** The plain-words headline of the edit. */
  words: string;
  /** The pack the edit was made for (its manifest sha256 or demo id); restoring needs it loaded. */
  packId: string | null;
  at: number;
  entry: EditEntry;
}

export const HISTORY_LIMIT = 30;
export const HISTORY_STORAGE_KEY = 'lethe.edit-history.v1';

/** Adds (or moves to the front) one edit; at most HISTORY_LIMIT are kept. */
export function withHistoryItem(history: readonly HistoryItem[], item: HistoryItem): HistoryItem[] {
  return [item, ...history.filter((h) => h.id !== item.id)].slice(0, HISTORY_LIMIT);
}

/** The recipe edits as JSON for storage (LoRA bytes are not stored). */
export function serializeHistory(history: readonly HistoryItem[]): string {
  return JSON.stringify(
    history.flatMap((h) => (h.entry.kind === 'recipe' ? [{ id: h.id, label: h.label, method: h.method, words: h.words, packId: h.packId, at: h.at, recipe: h.entry.recipe }] : [])),
  );
}

/** Reads stored history; entries that are not well-formed are skipped, never trusted. */
export function parseHistory(text: string | null): HistoryItem[] {
  if (!text) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const items: HistoryItem[] = [];
  for (const value of raw.slice(0, HISTORY_LIMIT)) {
    if (typeof value !== 'object' || value === null) continue;
    const v = value as Record<string, unknown>;
    if (typeof v.id !== 'string' || !/^[0-9a-f]{64}$/.test(v.id) || typeof v.recipe !== 'string' || typeof v.label !== 'string') continue;
    const method = v.method === 'uce' || v.method === 'realera' ? v.method : null;
    if (!method) continue;
    items.push({
      id: v.id,
      label: v.label,
      method,
      words: typeof v.words === 'string' ? v.words : '',
      packId: typeof v.packId === 'string' ? v.packId : null,
      at: typeof v.at === 'number' && Number.isFinite(v.at) ? v.at : 0,
      entry: { kind: 'recipe', id: v.id, recipe: v.recipe, label: v.label },
    });
  }
  return items;
}
