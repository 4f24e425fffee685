/**
 * Fills the comparison grid, one image at a time (the engine runs one job at a time anyway), in
 * the order gridJobs gives: each row's before image, then each edit column. Images of a pinned
 * edit are made with the engine's kept copy of it (generate's editId), so a column always shows
 * the edit named above it, whatever the current edit is.
 */
import type { GeneratedImage, GenerateProgressEvent } from '../engine/api.ts';
import { gridRows, nextGridJob, type GridCell, type GridEdit } from './comparison-grid.ts';
import { Comlink, engineClient } from './engine-client.ts';
import { describeEngineError } from './engine-error-advice.ts';
import { pairSettingsFor } from './generate-form.ts';
import { useStudio } from './store.ts';
import { activeEditId } from './studio-state.ts';
import { withTiming } from './time-estimate.ts';
import { currentGridJobs } from './workbench-state.ts';

/** At most this many edits are pinned: each keeps its factors on the GPU. */
export const MAX_PINNED = 4;

let filling = false;
let stopRequested = false;
let runningJob: string | null = null;

/** Takes the prompt set from the concept form and the sampling settings from the generate form. */
export function takeGridPrompts(): boolean {
  const { concept, generation, grid, updateGrid, updateGeneration } = useStudio.getState();
  let settings;
  try {
    const { prompt: _prompt, seed: _seed, ...rest } = pairSettingsFor(generation.form);
    settings = rest;
  } catch (error) {
    updateGeneration({ formError: (error as Error).message });
    return false;
  }
  updateGrid({ rows: gridRows(concept.form, grid.perRole), settings });
  return true;
}

/** Starts filling (a no-op while a fill runs: the running loop picks new jobs up itself). */
export function fillGrid(): void {
  if (filling) return;
  void fillLoop();
}

/** Stops after the running image (cancelled within one denoising step). */
export async function stopGrid(): Promise<void> {
  stopRequested = true;
  if (runningJob) await engineClient().cancel(runningJob).catch(() => undefined);
}

/** Clears failed and cancelled cells so Fill tries them again. */
export function retryGrid(): void {
  useStudio.getState().updateGrid((g) => ({ cells: Object.fromEntries(Object.entries(g.cells).filter(([, cell]) => cell.state === 'done' || cell.state === 'running')) }));
  fillGrid();
}

async function fillLoop(): Promise<void> {
  filling = true;
  stopRequested = false;
  useStudio.getState().updateGrid({ running: true });
  try {
    while (!stopRequested) {
      const state = useStudio.getState();
      if (state.gpu.state !== 'ready' || !state.model.loaded || !state.grid.settings) break;
      const job = nextGridJob(currentGridJobs(state.grid, state.edit, state.concept.form), state.grid.cells);
      if (!job) break;
      await runCell(job.key, job.row.prompt, job.seed, job.editId);
    }
  } finally {
    filling = false;
    stopRequested = false;
    useStudio.getState().updateGrid({ running: false });
  }
}

async function runCell(key: string, prompt: string, seed: number, editId: string | null): Promise<void> {
  const { grid, updateGrid } = useStudio.getState();
  const settings = grid.settings!;
  const jobId = crypto.randomUUID();
  runningJob = jobId;
  const setCell = (patch: Partial<GridCell> | null) =>
    useStudio.getState().updateGrid((g) => {
      const cells = { ...g.cells };
      if (patch === null) delete cells[key];
      else cells[key] = { ...(cells[key] ?? { state: 'queued', jobId, progress: null, image: null, error: null }), ...patch };
      return { cells };
    });
  updateGrid((g) => ({ cells: { ...g.cells, [key]: { state: 'running', jobId, progress: null, image: null, error: null } } }));
  const onProgress = (event: GenerateProgressEvent) => {
    if (useStudio.getState().grid.cells[key]?.jobId === jobId) setCell({ progress: event });
  };
  try {
    const image: GeneratedImage = await engineClient().generate(
      { ...settings, prompt, seed, jobId, variant: editId === null ? 'original' : 'edited', ...(editId === null ? {} : { editId }) },
      Comlink.proxy(onProgress),
    );
    setCell({ state: 'done', image, error: null });
    useStudio.getState().updateTimings((t) => ({ images: withTiming(t.images, { steps: settings.steps, ms: image.ms }) }));
  } catch (error) {
    const message = (error as Error)?.message ?? '';
    // The edit was replaced before its turn and nobody pinned it: its column is gone, not failed.
    if (/neither current nor kept/.test(message)) setCell(null);
    else if ((error as { name?: string })?.name === 'AbortError' || stopRequested) setCell({ state: 'cancelled' });
    else setCell({ state: 'error', error: describeEngineError(error, 'generate') });
  } finally {
    runningJob = null;
  }
}

/** Keeps the current edit as a grid column (the engine keeps its factors). */
export async function pinCurrentEdit(): Promise<void> {
  const { edit, grid, updateGrid, notify } = useStudio.getState();
  const id = activeEditId(edit.active);
  if (id === null) return;
  if (grid.edits.filter((e) => e.pinned).length >= MAX_PINNED) {
    notify(`At most ${MAX_PINNED} edits can be pinned: unpin one first (each keeps its weights on the GPU).`);
    return;
  }
  const kept = await engineClient().keepEdit(id);
  if (!kept) return;
  updateGrid((g) => ({ edits: g.edits.map((e) => (e.editId === id ? { ...e, pinned: true } : e)) }));
  fillGrid();
}

export async function unpinEdit(editId: string): Promise<void> {
  const { edit, updateGrid } = useStudio.getState();
  await engineClient().releaseKeptEdit(editId).catch(() => undefined);
  const current = activeEditId(edit.active) === editId;
  updateGrid((g) => ({ edits: current ? g.edits.map((e) => (e.editId === editId ? { ...e, pinned: false } : e)) : g.edits.filter((e) => e.editId !== editId) }));
}

/** Drops an outdated column (an earlier edit nobody pinned). */
export function dismissColumn(editId: string): void {
  useStudio.getState().updateGrid((g) => ({ edits: g.edits.filter((e) => e.editId !== editId || e.pinned), previousId: g.previousId === editId ? null : g.previousId }));
}

/** A new current edit becomes a column; the one it replaced stays on show, marked outdated. */
export function gridEditChanged(previousId: string | null, next: GridEdit | null): void {
  useStudio.getState().updateGrid((g) => {
    let edits = g.edits.filter((e) => e.pinned || e.editId === previousId || (next !== null && e.editId === next.editId));
    if (next && !edits.some((e) => e.editId === next.editId)) edits = [...edits, next];
    const previous = previousId !== null && previousId !== next?.editId ? previousId : g.previousId;
    // Only one earlier unpinned edit is kept on show.
    edits = edits.filter((e) => e.pinned || e.editId === next?.editId || e.editId === previous);
    return { edits, previousId: previous ?? null };
  });
}

/** A new pack: kept edits are gone in the engine, and images of the old pack mean nothing now. */
export function resetGridForPack(): void {
  useStudio.getState().updateGrid({ cells: {}, edits: [], previousId: null, viewer: null });
}

export function openViewer(prompt: string, seed: number, editId: string): void {
  useStudio.getState().updateGrid({ viewer: { prompt, seed, editId } });
}

export function closeViewer(): void {
  useStudio.getState().updateGrid({ viewer: null });
}
