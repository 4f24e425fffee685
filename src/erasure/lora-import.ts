/**
 * LoRA import: a LoRA safetensors file (diffusers/PEFT or kohya keys) as per-layer low-rank
 * deltas of the pack's cross-attention projections, in the form the UNet runner applies them
 * (kv-projection.ts: K = E W^T + scale * (E down^T) up^T).
 *
 * Only attn2.to_k / attn2.to_v can be applied: with K/V as graph inputs, the text embedding
 * meets the UNet nowhere else. Every other key is listed in `notApplied`, never dropped.
 *
 * `.diff` full differences (kohya) are turned into factors by a randomized SVD to the smallest
 * rank whose measured relative error is below `diffTolerance` (1e-3): the runner's low-rank
 * path then serves them too, and a 1280 x 768 difference usually needs far fewer than 768
 * columns. When it would need more than MAX_DIFF_RANK (64) or half of min(out, in), the
 * difference is kept exactly as rank-min(out, in) factors (an identity on the smaller side);
 * `notes` says which way each one went.
 */
import { describeLoraKey } from '../formats/lora/keys.ts';
import type { LoraFullDiff, LoraLayerDelta } from '../formats/lora/layer.ts';
import { readLetheMetadata, type LetheLoraProvenance } from '../formats/lora/metadata.ts';
import { readLora } from '../formats/lora/reader.ts';
import { readSafetensorsHeader } from '../formats/safetensors/header.ts';
import type { CrossAttentionLayer, PackFamily } from '../model/manifest.ts';
import { InputError } from '../util/errors.ts';
import { lowRankWithin } from './linalg/randomized-svd.ts';
import type { KvProjection } from './lora-export.ts';

export interface LoraImportSummary {
  fileName: string;
  strength: number;
  /** Projections the file changes and Lethe applied. */
  applied: string[];
  /** Keys Lethe does not apply (self-attention, convolutions, text encoder, ...), listed, never dropped silently. */
  notApplied: string[];
  editId: string;
}

/** One projection's delta: W' = W + scale * up @ down. */
export interface ImportedKvDelta {
  /** CrossAttentionLayer.index. */
  readonly layer: number;
  readonly projection: KvProjection;
  /** e.g. `mid_block.attentions.0.transformer_blocks.0.attn2.to_v`. */
  readonly module: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly rank: number;
  /** [out, rank], row-major. */
  readonly up: Float32Array;
  /** [rank, in], row-major. */
  readonly down: Float32Array;
  /** strength * alpha / rank (factors as in the file). */
  readonly scale: number;
}

export interface LoraImport {
  readonly deltas: ImportedKvDelta[];
  /** Module paths (`...attn2.to_k`) the deltas change, in file order. */
  readonly applied: string[];
  /** Tensor keys Lethe does not apply, in file order. */
  readonly notApplied: string[];
  /** One line per thing worth saying: full differences and how they were factored, modules the pack lacks. */
  readonly notes: string[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Lethe's provenance keys when the file was made by Lethe. */
  readonly provenance: LetheLoraProvenance | null;
}

/** The pack's side: its cross-attention layers with their [out, in] shapes. */
export interface ImportTarget {
  readonly layers: readonly CrossAttentionLayer[];
  /** Named in error messages. */
  readonly family?: PackFamily;
}

export interface LoraImportOptions {
  /** Relative Frobenius error allowed when a `.diff` is factored (default 1e-3). */
  readonly diffTolerance?: number;
  /** Seed of the randomized SVD (default 0). */
  readonly seed?: number;
}

/** The file was made for another base model (its shapes do not fit the pack). */
export class LoraBaseMismatchError extends InputError {}

export const DEFAULT_DIFF_TOLERANCE = 1e-3;
/**
 * The largest rank tried for a `.diff`. Beyond it the search costs seconds per 1280 x 768 matrix
 * on the CPU (QR and SVD of wide sketches) and saves little; the exact form is used instead.
 */
export const MAX_DIFF_RANK = 64;

export function importLoraFile(bytes: Uint8Array, fileName: string, strength: number, target: ImportTarget, options: LoraImportOptions = {}): LoraImport {
  if (!Number.isFinite(strength)) throw new InputError(`${fileName}: strength must be a finite number, got ${strength}`);
  const tolerance = options.diffTolerance ?? DEFAULT_DIFF_TOLERANCE;
  const lora = readLora(bytes, fileName);
  const provenance = readLetheMetadata(lora.metadata, fileName);
  const keysOf = moduleKeys(bytes, fileName);
  const slots = packSlots(target.layers);
  const packName = target.family ? `this ${target.family} pack` : 'this pack';

  const notApplied = new Set(lora.unsupported);
  const notes: string[] = [];
  const missing: string[] = [];
  const parts = new Map<string, { slot: Slot; terms: Term[] }>();

  const place = (module: string, outFeatures: number, inFeatures: number, key: string): Slot | null => {
    const slot = slots.get(module);
    if (!slot) {
      missing.push(module);
      for (const k of keysOf.get(module) ?? []) notApplied.add(k);
      return null;
    }
    checkShape(slot, outFeatures, inFeatures, key, fileName, packName);
    return slot;
  };

  for (const layer of lora.layers) {
    const slot = place(layer.module, layer.outFeatures, layer.inFeatures, firstKey(keysOf, layer.module));
    if (!slot) continue;
    addTerm(parts, slot, { up: layer.up, down: layer.down, rank: layer.rank, scale: (strength * layer.alpha) / layer.rank });
    checkFinite(layer, fileName, firstKey(keysOf, layer.module));
  }
  for (const diff of lora.fullDiffs) {
    const slot = place(diff.module, diff.outFeatures, diff.inFeatures, firstKey(keysOf, diff.module));
    if (!slot) continue;
    const factored = factorDiff(diff, tolerance, options.seed ?? 0, fileName, firstKey(keysOf, diff.module));
    notes.push(`${diff.module}: full difference (${diff.outFeatures} x ${diff.inFeatures}) ${factored.note}`);
    addTerm(parts, slot, { up: factored.up, down: factored.down, rank: factored.rank, scale: strength });
  }

  if (parts.size === 0 && missing.length > 0)
    throw new LoraBaseMismatchError(
      `${fileName}: none of its ${missing.length} cross-attention projections exist in ${packName} (e.g. ${missing[0]}); it was made for a different base model`,
    );
  if (missing.length > 0) notes.push(`${missing.length} cross-attention projections of the file are not in ${packName} and were not applied: ${missing.join(', ')}`);
  if (parts.size === 0) notes.push('the file changes no cross-attention projection: nothing to apply');

  const deltas: ImportedKvDelta[] = [];
  for (const [module, { slot, terms }] of parts) {
    const merged = terms.length === 1 ? terms[0] : concatenate(terms, slot);
    if (terms.length > 1) notes.push(`${module}: ${terms.length} updates in the file (low-rank and full difference) applied as their sum`);
    deltas.push({ layer: slot.layer, projection: slot.projection, module, outFeatures: slot.outFeatures, inFeatures: slot.inFeatures, up: merged.up, down: merged.down, rank: merged.rank, scale: merged.scale });
  }
  const order = new Map([...keysOf.keys()].map((module, i) => [module, i]));
  deltas.sort((a, b) => order.get(a.module)! - order.get(b.module)!);
  const keyOrder = new Map(keysOf.allKeys.map((key, i) => [key, i]));
  return {
    deltas,
    applied: deltas.map((delta) => delta.module),
    notApplied: [...notApplied].sort((a, b) => keyOrder.get(a)! - keyOrder.get(b)!),
    notes,
    metadata: lora.metadata,
    provenance,
  };
}

interface Slot {
  readonly module: string;
  readonly layer: number;
  readonly projection: KvProjection;
  readonly outFeatures: number;
  readonly inFeatures: number;
}

function packSlots(layers: readonly CrossAttentionLayer[]): Map<string, Slot> {
  const slots = new Map<string, Slot>();
  for (const layer of layers)
    for (const projection of ['to_k', 'to_v'] as const) {
      const [outFeatures, inFeatures] = (projection === 'to_k' ? layer.toK : layer.toV).shape;
      const module = `${layer.module}.${projection}`;
      slots.set(module, { module, layer: layer.index, projection, outFeatures, inFeatures });
    }
  return slots;
}

/** Tensor keys of the file by the module they belong to (in file order), plus every key. */
function moduleKeys(bytes: Uint8Array, file: string): Map<string, string[]> & { allKeys: string[] } {
  const header = readSafetensorsHeader(bytes, bytes.length, file);
  const map = new Map<string, string[]>() as Map<string, string[]> & { allKeys: string[] };
  map.allKeys = [...header.tensors.keys()];
  for (const key of map.allKeys) {
    const info = describeLoraKey(key);
    if (info.component !== 'unet' || info.module === null) continue;
    const list = map.get(info.module) ?? [];
    list.push(key);
    map.set(info.module, list);
  }
  return map;
}

function firstKey(keys: Map<string, string[]>, module: string): string {
  return keys.get(module)?.[0] ?? module;
}

/** Text-embedding widths of the base models, for messages. */
const BASE_BY_WIDTH: Readonly<Record<number, string>> = { 768: 'SD 1.x', 1024: 'SD 2.x', 2048: 'SDXL' };

function describeWidth(width: number): string {
  const base = BASE_BY_WIDTH[width];
  return base ? `${width} (${base})` : String(width);
}

function checkShape(slot: Slot, outFeatures: number, inFeatures: number, key: string, file: string, packName: string): void {
  if (inFeatures !== slot.inFeatures)
    throw new LoraBaseMismatchError(
      `${file}: ${key}: the LoRA's projections take text embeddings ${describeWidth(inFeatures)} wide, ${packName}'s take ${describeWidth(slot.inFeatures)}; it was made for a different base model`,
    );
  if (outFeatures !== slot.outFeatures)
    throw new LoraBaseMismatchError(
      `${file}: ${key}: the LoRA's projection has ${outFeatures} outputs, ${packName}'s has ${slot.outFeatures}; it was made for a different base model`,
    );
}

function checkFinite(layer: LoraLayerDelta, file: string, key: string): void {
  for (const values of [layer.up, layer.down])
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new InputError(`${file}: ${key}: holds a non-finite value (${values[i]}); the LoRA is broken`);
}

function factorDiff(diff: LoraFullDiff, tolerance: number, seed: number, file: string, key: string): { up: Float32Array; down: Float32Array; rank: number; note: string } {
  const { outFeatures: out, inFeatures: inF, diff: values } = diff;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new InputError(`${file}: ${key}: holds a non-finite value (${values[i]}); the LoRA is broken`);
  const small = Math.min(out, inF);
  const maxRank = Math.max(1, Math.min(MAX_DIFF_RANK, Math.floor(small / 2)));
  const approximation = lowRankWithin({ rows: out, cols: inF, data: values }, tolerance, { seed, maxRank });
  if (approximation)
    return { ...approximation, note: `factored to rank ${approximation.rank} by randomized SVD (relative error ${approximation.relativeError.toExponential(1)})` };
  // Exact: diff = I @ diff (out <= in) or diff @ I (in < out), rank min(out, in).
  const identity = new Float32Array(small * small);
  for (let i = 0; i < small; i++) identity[i * small + i] = 1;
  const note = `is not low-rank within ${tolerance.toExponential(0)}; kept exact as rank-${small} factors`;
  return out <= inF ? { up: identity, down: Float32Array.from(values), rank: small, note } : { up: Float32Array.from(values), down: identity, rank: small, note };
}

type Term = { up: Float32Array; down: Float32Array; rank: number; scale: number };

function addTerm(parts: Map<string, { slot: Slot; terms: Term[] }>, slot: Slot, term: Term): void {
  const entry = parts.get(slot.module);
  if (entry) entry.terms.push(term);
  else parts.set(slot.module, { slot, terms: [term] });
}

/** sum_t s_t up_t @ down_t as one pair: [s_1 up_1 | s_2 up_2 ...] @ [down_1; down_2; ...], scale 1. */
function concatenate(terms: readonly Term[], slot: Slot): Term {
  const rank = terms.reduce((sum, t) => sum + t.rank, 0);
  const up = new Float32Array(slot.outFeatures * rank);
  const down = new Float32Array(rank * slot.inFeatures);
  let offset = 0;
  for (const term of terms) {
    for (let o = 0; o < slot.outFeatures; o++) for (let k = 0; k < term.rank; k++) up[o * rank + offset + k] = term.up[o * term.rank + k] * term.scale;
    down.set(term.down, offset * slot.inFeatures);
    offset += term.rank;
  }
  return { up, down, rank, scale: 1 };
}
