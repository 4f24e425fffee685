import type { DemoPreset, PackLoadProgress, PackSourceSpec } from '../engine/api.ts';
import { InputError } from '../util/errors.ts';

/** The model panel's source choices and what they need; pure, so it is testable without a DOM. */

export type ModelSourceChoice = 'demo' | 'hub' | 'folder';

export interface HubFields {
  repo: string;
  revision: string;
  endpoint: string;
  token: string;
}

/** A folder the user picked: a directory handle (File System Access API) or a webkitdirectory file list. */
export type PickedFolder =
  | { kind: 'directory'; name: string; handle: FileSystemDirectoryHandle }
  | { kind: 'files'; name: string; files: File[] };

export interface ModelChoice {
  choice: ModelSourceChoice;
  demoPreset: DemoPreset;
  hub: HubFields;
  folder: PickedFolder | null;
}

export interface FileLoadView {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  cached: boolean;
}

/** The progress of one load, as the panel draws it: files in the order they were first reported. */
export interface PackLoadView {
  phase: PackLoadProgress['phase'];
  /** The file or piece the latest event is about. */
  item: string | null;
  files: FileLoadView[];
  overallDone: number;
  overallTotal: number;
}

/** The spec the engine loads for the current choice; InputError says what is missing. */
export function specForChoice(model: ModelChoice): PackSourceSpec {
  switch (model.choice) {
    case 'demo':
      return { kind: 'demo', preset: model.demoPreset };
    case 'hub': {
      const repo = model.hub.repo.trim();
      if (!repo) throw new InputError('Enter the hub repo of a Lethe pack as owner/name.');
      const spec: PackSourceSpec = { kind: 'hub', repo };
      const revision = model.hub.revision.trim();
      const endpoint = model.hub.endpoint.trim();
      const token = model.hub.token.trim();
      if (revision) spec.revision = revision;
      if (endpoint) spec.endpoint = endpoint;
      if (token) spec.token = token;
      return spec;
    }
    case 'folder': {
      const folder = model.folder;
      if (!folder) throw new InputError('Choose the pack folder (the one that contains manifest.json) first.');
      return folder.kind === 'directory' ? { kind: 'directory', handle: folder.handle } : { kind: 'files', files: folder.files };
    }
  }
}

/** Where the picked files came from: the top folder of their webkitRelativePath. */
export function pickedFolderName(files: readonly File[]): string {
  const first = files[0]?.webkitRelativePath || files[0]?.name || '';
  return first.split('/')[0] || '(no folder)';
}

/**
 * Folds one progress event into the view. Download events fill the file rows (a file keeps its
 * row); the engine's later phases (prepare, compile) only move the phase, the item they name and,
 * when they carry totals, the overall bar.
 */
export function applyPackProgress(view: PackLoadView | null, progress: PackLoadProgress): PackLoadView {
  const files = view?.files ?? [];
  let next = files;
  if (progress.phase === 'download' && progress.file !== undefined) {
    const row: FileLoadView = { file: progress.file, bytesDone: progress.bytesDone, bytesTotal: progress.bytesTotal, cached: progress.cached === true };
    const index = files.findIndex((f) => f.file === progress.file);
    next = index < 0 ? [...files, row] : files.map((f, i) => (i === index ? row : f));
  }
  const keepTotals = progress.overallTotal <= 0 && view !== null;
  return {
    phase: progress.phase,
    item: progress.file ?? null,
    files: next,
    overallDone: keepTotals ? view.overallDone : progress.overallDone,
    overallTotal: keepTotals ? view.overallTotal : progress.overallTotal,
  };
}

/** Percent for a progress bar; an empty total (an empty file) counts as complete. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.max(0, (done / total) * 100));
}
