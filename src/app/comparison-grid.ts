/**
 * The comparison grid, pure: which prompts (rows) show one erasure, which edits are columns,
 * which image each cell holds, and what to generate next. Every image is keyed by the edit that
 * made it (null: the original model), the prompt, the seed and the sampling settings, so an image
 * can never be shown under an edit that did not make it.
 */
import type { GeneratedImage, GenerateProgressEvent } from '../engine/api.ts';
import type { ConceptForm } from './concept-form.ts';
import type { EngineErrorView } from './engine-error-advice.ts';
import type { PairSettings } from './generate-form.ts';

export type PromptRole = 'erased' | 'synonym' | 'kept' | 'unrelated';

export interface GridRow {
  role: PromptRole;
  concept: string;
  prompt: string;
}

export const ROLE_WORDS: Record<PromptRole, string> = {
  erased: 'erased',
  synonym: 'synonym, erased with it',
  kept: 'related, kept',
  unrelated: 'unrelated',
};

/** The concept world's evaluation wording: it reads for any noun ("a photo of the airplane"). */
export const GRID_TEMPLATE = 'a photo of the {}';

/** Unrelated prompts when the form preserves nothing: things far from most erased concepts. */
export const UNRELATED_FALLBACK: readonly string[] = ['ship', 'airplane', 'mountain lake'];

export const DEFAULT_GRID_SEEDS: readonly number[] = [1, 2];

/**
 * The prompt set of one erasure: the erased concepts, their synonyms (corefs), related concepts
 * that are kept (retains) and unrelated ones (preserve, else a fallback), at most `perRole` each.
 */
export function gridRows(form: ConceptForm, perRole = 1, template = GRID_TEMPLATE): GridRow[] {
  const row = (role: PromptRole, concept: string): GridRow => ({ role, concept, prompt: template.replace('{}', concept) });
  const targets = form.targets.map((t) => t.concept.trim()).filter((c) => c !== '');
  const corefs = form.targets.flatMap((t) => (t.concept.trim() === '' ? [] : t.corefs.map((c) => c.concept.trim())));
  const retains = form.retains.map((c) => c.concept.trim());
  const claimed = new Set([...targets, ...corefs, ...retains].map((c) => c.toLowerCase()));
  const preserve = form.preserve.map((c) => c.concept.trim()).filter((c) => !claimed.has(c.toLowerCase()));
  const unrelated = preserve.length > 0 ? preserve : UNRELATED_FALLBACK.filter((c) => !claimed.has(c));
  const take = (items: string[]) => [...new Set(items.filter((c) => c !== ''))].slice(0, perRole);
  return [...take(targets).map((c) => row('erased', c)), ...take(corefs).map((c) => row('synonym', c)), ...take(retains).map((c) => row('kept', c)), ...take(unrelated).map((c) => row('unrelated', c))];
}

/** The sampling settings every grid image shares (prompt and seed vary per cell). */
export type GridSettings = Omit<PairSettings, 'prompt' | 'seed'>;

export function settingsKey(settings: GridSettings): string {
  return [settings.steps, settings.guidance, settings.scheduler, settings.width ?? 'native', settings.height ?? 'native', settings.negativePrompt ?? ''].join('/');
}

export function cellKey(editId: string | null, prompt: string, seed: number, settings: string): string {
  return `${editId ?? 'original'}|${seed}|${settings}|${prompt}`;
}

export type CellState = 'queued' | 'running' | 'done' | 'cancelled' | 'error';

export interface GridCell {
  state: CellState;
  jobId: string | null;
  progress: GenerateProgressEvent | null;
  image: GeneratedImage | null;
  error: EngineErrorView | null;
}

/** An edit that has (or may get) a column: the current one, a pinned one, or the one just replaced. */
export interface GridEdit {
  editId: string;
  /** Short name: "UCE · cat", "LoRA · file.safetensors". */
  label: string;
  pinned: boolean;
}

/**
 * current: the engine's edit, and the form still describes it; outdated: the settings changed
 * since it was made (current but stale) or it is an earlier edit nobody pinned; pinned: kept for
 * comparison (the engine keeps its factors, so its column can still be filled).
 */
export type ColumnStatus = 'current' | 'pinned' | 'outdated';

export interface GridColumn {
  editId: string;
  label: string;
  status: ColumnStatus;
  isCurrent: boolean;
  pinned: boolean;
  /** New images can be made for it: it is the engine's current edit or a kept one. */
  fillable: boolean;
}

/**
 * The columns on show: pinned edits in pin order, then the current edit, then the edit it
 * replaced (`previousId`, marked outdated) so a change never silently removes what was seen.
 */
export function gridColumns(edits: readonly GridEdit[], activeId: string | null, previousId: string | null, formMatchesActive: boolean): GridColumn[] {
  const columns: GridColumn[] = [];
  const add = (edit: GridEdit) => {
    if (columns.some((c) => c.editId === edit.editId)) return;
    const isCurrent = edit.editId === activeId;
    const status: ColumnStatus = isCurrent ? (formMatchesActive ? 'current' : 'outdated') : edit.pinned ? 'pinned' : 'outdated';
    columns.push({ editId: edit.editId, label: edit.label, status, isCurrent, pinned: edit.pinned, fillable: isCurrent || edit.pinned });
  };
  for (const edit of edits) if (edit.pinned) add(edit);
  const current = edits.find((e) => e.editId === activeId);
  if (current) add(current);
  const previous = edits.find((e) => e.editId === previousId && e.editId !== activeId);
  if (previous) add(previous);
  return columns;
}

export interface GridJob {
  editId: string | null;
  row: GridRow;
  seed: number;
  key: string;
}

/** Every image the grid shows that can be made, in fill order: row by row, before then each column. */
export function gridJobs(rows: readonly GridRow[], seeds: readonly number[], columns: readonly GridColumn[], settings: string): GridJob[] {
  const jobs: GridJob[] = [];
  for (const row of rows)
    for (const seed of seeds) {
      jobs.push({ editId: null, row, seed, key: cellKey(null, row.prompt, seed, settings) });
      for (const column of columns) if (column.fillable) jobs.push({ editId: column.editId, row, seed, key: cellKey(column.editId, row.prompt, seed, settings) });
    }
  return jobs;
}

/** The first job with no image and none on the way (errors and cancels wait for an explicit refill). */
export function nextGridJob(jobs: readonly GridJob[], cells: Readonly<Record<string, GridCell>>): GridJob | null {
  return jobs.find((job) => cells[job.key] === undefined) ?? null;
}

export interface GridProgress {
  done: number;
  failed: number;
  total: number;
}

export function gridProgress(jobs: readonly GridJob[], cells: Readonly<Record<string, GridCell>>): GridProgress {
  let done = 0;
  let failed = 0;
  for (const job of jobs) {
    const state = cells[job.key]?.state;
    if (state === 'done') done++;
    else if (state === 'error') failed++;
  }
  return { done, failed, total: jobs.length };
}
