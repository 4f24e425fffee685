import type { DemoPreset, PackLoadProgress, PackSourceSpec } from '../engine/api.ts';
import { formatBytes } from '../gpu/device.ts';
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

export type LoadOutcome = 'loading' | 'done' | 'failed';

/**
 * The overall line of a pack load, in words: a bar never claims 100% unless the load finished,
 * and a size never known (a load that failed before reading the manifest) is said as unknown.
 * The built-in demo pack is made in this tab and stored in the cache, so it is "storing", never
 * "downloading".
 */
export function loadLine(view: PackLoadView, outcome: LoadOutcome, source: ModelSourceChoice): { text: string; numbers: string; fraction: number | null } {
  const known = view.overallTotal > 0;
  const sizes = known ? `${formatBytes(view.overallDone)} of ${formatBytes(view.overallTotal)}` : '';
  if (outcome === 'failed') {
    return { text: known ? 'Stopped' : 'Stopped before the pack size was known', numbers: sizes, fraction: known ? Math.min(view.overallDone / view.overallTotal, 0.999) : 0 };
  }
  if (outcome === 'done') return { text: source === 'demo' ? 'Made in this tab and cached' : 'Loaded', numbers: sizes, fraction: 1 };
  const phase = view.phase === 'download' && source === 'demo' ? 'Storing the demo files in the browser cache' : PHASE_WORDS[view.phase];
  const item = view.phase !== 'download' && view.item ? ` ${view.item}` : '';
  // Download done but not yet compiled is not 100% of the load: cap below 1 until 'ready'.
  const fraction = known ? Math.min(view.overallDone / view.overallTotal, view.phase === 'ready' ? 1 : 0.99) : null;
  return { text: `${phase}${item}`, numbers: known ? `${sizes} (${Math.floor((fraction ?? 0) * 100)}%)` : 'size not known yet', fraction };
}

const PHASE_WORDS: Record<PackLoadView['phase'], string> = {
  manifest: 'Reading manifest.json…',
  download: 'Downloading',
  prepare: 'Preparing',
  compile: 'Compiling',
  ready: 'Ready',
};
