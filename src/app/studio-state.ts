/**
 * The studio's generation, concept, edit and LoRA slices: their shapes, initial values and the
 * pure transitions the actions use (kept here so they are testable without React or a worker).
 */
import type { EditEffect, EditSummary, GeneratedImage, GenerateProgressEvent, LoraExportResult, LoraImportSummary } from '../engine/api.ts';
import { initialConceptForm, type ConceptForm } from './concept-form.ts';
import { emptyEditStack, type EditStack } from './edit-stack.ts';
import type { EngineErrorView } from './engine-error-advice.ts';
import { initialGenerateForm, type GenerateForm, type PairSettings } from './generate-form.ts';
import { initialLoraForm, type LoraForm } from './lora-form.ts';

export type Variant = 'original' | 'edited';

/** 'queued': the edited image of a pair waits for its original (the engine runs one at a time). */
export type ImageJobState = 'idle' | 'queued' | 'running' | 'done' | 'cancelled' | 'error';

export interface ImageSlot {
  state: ImageJobState;
  jobId: string | null;
  /** The latest progress event; kept when the job ends, so a cancelled bar shows where it stopped. */
  progress: GenerateProgressEvent | null;
  image: GeneratedImage | null;
  error: EngineErrorView | null;
}

export interface ImagePair {
  /** Increasing per pair, for keys and the history strip. */
  id: number;
  settings: PairSettings;
  original: ImageSlot;
  edited: ImageSlot;
}

export interface GenerationState {
  form: GenerateForm;
  /** Newest last; at most MAX_PAIRS. */
  pairs: ImagePair[];
  /** The pair on show (null before the first generate). */
  shownPairId: number | null;
  /** Why the form could not be sent (validation); engine errors live on the image slots. */
  formError: string | null;
}

/** The edit an undo/redo step restores: a recipe (recomputed bit for bit) or a LoRA file at a strength. */
export type EditEntry =
  | { kind: 'recipe'; id: string; recipe: string; label: string }
  | { kind: 'lora'; id: string; bytes: Uint8Array; fileName: string; strength: number };

export type ActiveEdit = { kind: 'closed-form'; summary: EditSummary } | { kind: 'lora'; summary: LoraImportSummary };

export interface EditState {
  stack: EditStack<EditEntry>;
  /** What the engine applies now (null: the original model). */
  active: ActiveEdit | null;
  /**
   * The concept form (as formSignature) that made the active closed-form edit: when the form no
   * longer matches, every result of the edit is marked outdated. Null for LoRA edits and none.
   */
  formSignature: string | null;
  /** An erase, recipe, undo/redo, clear or import is running. */
  busy: boolean;
}

export interface MeasureState {
  /** One prompt per line. */
  prompts: string;
  busy: boolean;
  results: EditEffect[] | null;
  /** The edit the results belong to. */
  editId: string | null;
  error: EngineErrorView | null;
}

export interface ConceptState {
  form: ConceptForm;
  /** What is typed but not yet added, per chip editor ("coref-0", "retain", "preserve"). */
  drafts: Record<string, string>;
  error: EngineErrorView | null;
  measure: MeasureState;
}

export interface LoraState {
  form: LoraForm;
  exporting: boolean;
  /** The last export, without its bytes (they went to the download), and the edit it exported. */
  exported: (Omit<LoraExportResult, 'bytes'> & { bytes: number; options: string; editId: string | null }) | null;
  importing: boolean;
  /** The last file opened: kept so the strength slider can re-apply it. */
  file: { name: string; bytes: Uint8Array } | null;
  imported: LoraImportSummary | null;
  error: EngineErrorView | null;
}

export const MAX_PAIRS = 16;

export function idleSlot(): ImageSlot {
  return { state: 'idle', jobId: null, progress: null, image: null, error: null };
}

export function initialGenerationState(): GenerationState {
  return { form: initialGenerateForm(), pairs: [], shownPairId: null, formError: null };
}

export function initialConceptState(): ConceptState {
  return {
    form: initialConceptForm(),
    drafts: {},
    error: null,
    measure: { prompts: '', busy: false, results: null, editId: null, error: null },
  };
}

export function initialEditState(): EditState {
  return { stack: emptyEditStack<EditEntry>(), active: null, formSignature: null, busy: false };
}

export function initialLoraState(): LoraState {
  return { form: initialLoraForm(), exporting: false, exported: null, importing: false, file: null, imported: null, error: null };
}

export function activeEditId(edit: ActiveEdit | null): string | null {
  if (!edit) return null;
  return edit.kind === 'closed-form' ? edit.summary.id : edit.summary.editId;
}

/** Two stack entries are the same edit when their ids match (a recipe's id is its sha256). */
export function sameEditEntry(a: EditEntry, b: EditEntry): boolean {
  return a.kind === b.kind && a.id === b.id;
}

/** Adds a pair and shows it; the oldest pairs beyond MAX_PAIRS are dropped. */
export function withNewPair(state: GenerationState, pair: ImagePair): Partial<GenerationState> {
  const pairs = [...state.pairs, pair];
  return { pairs: pairs.slice(Math.max(0, pairs.length - MAX_PAIRS)), shownPairId: pair.id };
}

/** Patches one image slot of one pair; a function patch sees the current slot. */
export function withSlot(
  state: GenerationState,
  pairId: number,
  variant: Variant,
  patch: Partial<ImageSlot> | ((slot: ImageSlot) => Partial<ImageSlot> | null),
): Partial<GenerationState> {
  let changed = false;
  const pairs = state.pairs.map((pair) => {
    if (pair.id !== pairId) return pair;
    const slot = pair[variant];
    const delta = typeof patch === 'function' ? patch(slot) : patch;
    if (delta === null) return pair;
    changed = true;
    return { ...pair, [variant]: { ...slot, ...delta } };
  });
  return changed ? { pairs } : {};
}

/**
 * Folds a progress event into a slot: only events for the slot's current job count, and only
 * while it runs, so a late event cannot move a bar that stopped.
 */
export function slotProgress(slot: ImageSlot, event: GenerateProgressEvent): Partial<ImageSlot> | null {
  if (slot.jobId !== event.jobId || slot.state !== 'running') return null;
  return { progress: event };
}

export function shownPair(state: GenerationState): ImagePair | null {
  return state.pairs.find((p) => p.id === state.shownPairId) ?? null;
}

/** Every job that is running or waiting, for Cancel. */
export function pendingJobs(state: GenerationState): { pairId: number; variant: Variant; slot: ImageSlot }[] {
  const jobs: { pairId: number; variant: Variant; slot: ImageSlot }[] = [];
  for (const pair of state.pairs)
    for (const variant of ['original', 'edited'] as const)
      if (pair[variant].state === 'running' || pair[variant].state === 'queued') jobs.push({ pairId: pair.id, variant, slot: pair[variant] });
  return jobs;
}
