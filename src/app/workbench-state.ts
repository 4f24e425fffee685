/** The workbench slices: comparison grid, edit history, measured times. Pure shapes and helpers. */
import { DEFAULT_GRID_SEEDS, gridColumns, gridJobs, settingsKey, type GridCell, type GridColumn, type GridEdit, type GridJob, type GridRow, type GridSettings } from './comparison-grid.ts';
import type { HistoryItem } from './edit-history.ts';
import { activeEditId, type EditState } from './studio-state.ts';
import type { ImageTiming } from './time-estimate.ts';
import { formSignature, type ConceptForm } from './concept-form.ts';

export interface GridViewerTarget {
  prompt: string;
  seed: number;
  editId: string;
}

export interface GridState {
  /** The prompt set, taken from the concept form when Erase (or Fill) is pressed. */
  rows: GridRow[];
  seeds: number[];
  /** Rows per prompt role (erased, synonym, kept, unrelated). */
  perRole: number;
  /** Sampling settings the grid's images share, taken with the rows. */
  settings: GridSettings | null;
  cells: Record<string, GridCell>;
  edits: GridEdit[];
  /** The edit the current one replaced, shown (outdated) until the next change. */
  previousId: string | null;
  running: boolean;
  viewer: GridViewerTarget | null;
}

export interface TimingState {
  images: ImageTiming[];
  /** The last erase's wall time per method, for "about N s" before the next one. */
  eraseMs: Record<string, number>;
}

export function initialGridState(): GridState {
  return { rows: [], seeds: [...DEFAULT_GRID_SEEDS], perRole: 1, settings: null, cells: {}, edits: [], previousId: null, running: false, viewer: null };
}

export function initialTimingState(): TimingState {
  return { images: [], eraseMs: {} };
}

export type { HistoryItem };

/** True when the active closed-form edit is still what the concept form describes. */
export function formMatchesEdit(form: ConceptForm, edit: EditState): boolean {
  if (edit.active?.kind !== 'closed-form' || edit.formSignature === null) return true;
  return formSignature(form) === edit.formSignature;
}

export function currentGridColumns(grid: GridState, edit: EditState, form: ConceptForm): GridColumn[] {
  return gridColumns(grid.edits, activeEditId(edit.active), grid.previousId, formMatchesEdit(form, edit));
}

export function currentGridJobs(grid: GridState, edit: EditState, form: ConceptForm): GridJob[] {
  if (!grid.settings) return [];
  return gridJobs(grid.rows, grid.seeds, currentGridColumns(grid, edit, form), settingsKey(grid.settings));
}
