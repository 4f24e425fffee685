import type { GeneratedImage, GenerateProgressEvent } from '../engine/api.ts';
import { Comlink, engineClient } from './engine-client.ts';
import { describeEngineError } from './engine-error-advice.ts';
import { pairSettingsFor, randomSeed } from './generate-form.ts';
import { useStudio } from './store.ts';
import { activeEditId, idleSlot, pendingJobs, shownPair, slotProgress, withNewPair, withSlot, type ImagePair, type ImageSlot, type Variant } from './studio-state.ts';

/**
 * Generation: a pair is the original model and the current edit, same settings and seed. The
 * engine worker runs one job at a time anyway, so the edited image waits for the original
 * ('queued') and each gets its own progress bar.
 */

let pairCounter = 0;
/** Jobs the user (or a newer edit) asked to stop: their rejection means 'cancelled', not 'error'. */
const cancelRequested = new Set<string>();

export function generationBusy(): boolean {
  return pendingJobs(useStudio.getState().generation).length > 0;
}

/** Generates the original and the edited image for the form's settings (Generate, Ctrl+Enter). */
export async function generatePair(): Promise<void> {
  const { generation, model, gpu, updateGeneration } = useStudio.getState();
  if (!model.loaded || gpu.state !== 'ready' || generationBusy()) return;
  let settings;
  try {
    settings = pairSettingsFor(generation.form);
  } catch (error) {
    updateGeneration({ formError: (error as Error).message });
    return;
  }
  const pair: ImagePair = { id: ++pairCounter, settings, original: { ...idleSlot(), state: 'queued' }, edited: { ...idleSlot(), state: 'queued' } };
  updateGeneration((g) => ({ ...withNewPair(g, pair), formError: null }));
  const original = await runJob(pair.id, 'original');
  if (original === 'done') {
    await runJob(pair.id, 'edited');
    return;
  }
  // The edited image is not generated without its original: cancelled with it, or left idle after an error.
  updateGeneration((g) => withSlot(g, pair.id, 'edited', (slot) => (slot.state === 'queued' ? { state: original === 'cancelled' ? 'cancelled' : 'idle' } : null)));
}

/**
 * Regenerates the erased side of the pair on show (same settings and seed) when it is stale: not
 * made with the engine's current edit, or cancelled. A pair still generating picks the current
 * edit up by itself (the engine runs jobs in order), and so does a job started after the edit.
 */
export async function regenerateEdited(): Promise<void> {
  const { generation, edit, updateGeneration } = useStudio.getState();
  const pair = shownPair(generation);
  if (!pair || pair.original.state !== 'done') return;
  const slot = pair.edited;
  if (slot.state === 'queued' || slot.state === 'running') return;
  if (slot.state === 'done' && slot.image && slot.image.editId === activeEditId(edit.active)) return;
  updateGeneration((g) => withSlot(g, pair.id, 'edited', { state: 'queued', error: null }));
  await runJob(pair.id, 'edited');
}

/**
 * The edit is about to change: erased images being made for the old one are stale, and the
 * engine would make the new edit wait for them. They are regenerated once the edit lands.
 */
export async function cancelEditedJobs(): Promise<void> {
  const engine = engineClient();
  const waits: Promise<unknown>[] = [];
  for (const pair of useStudio.getState().generation.pairs) {
    const slot = pair.edited;
    if (slot.state !== 'running' || !slot.jobId) continue;
    cancelRequested.add(slot.jobId);
    waits.push(engine.cancel(slot.jobId).catch(() => undefined));
  }
  await Promise.all(waits);
}

/** Stops every running job (within one denoising step) and drops the queued ones. */
export async function cancelGeneration(): Promise<void> {
  const { generation, updateGeneration } = useStudio.getState();
  const engine = engineClient();
  const waits: Promise<unknown>[] = [];
  for (const job of pendingJobs(generation)) {
    if (job.slot.state === 'queued') {
      updateGeneration((g) => withSlot(g, job.pairId, job.variant, (slot) => (slot.state === 'queued' ? { state: 'cancelled' } : null)));
    } else if (job.slot.jobId) {
      cancelRequested.add(job.slot.jobId);
      waits.push(engine.cancel(job.slot.jobId).catch(() => undefined));
    }
  }
  await Promise.all(waits);
}

export function showPair(pairId: number): void {
  useStudio.getState().updateGeneration({ shownPairId: pairId });
}

export function rollSeed(): void {
  useStudio.getState().updateGeneration((g) => ({ form: { ...g.form, seed: randomSeed() } }));
}

type JobOutcome = 'done' | 'cancelled' | 'error' | 'skipped';

/** Runs one queued slot; a slot cancelled while it waited is skipped. */
async function runJob(pairId: number, variant: Variant): Promise<JobOutcome> {
  const { generation, updateGeneration } = useStudio.getState();
  const pair = generation.pairs.find((p) => p.id === pairId);
  if (!pair || pair[variant].state !== 'queued') return 'skipped';
  const jobId = crypto.randomUUID();
  updateGeneration((g) => withSlot(g, pairId, variant, { state: 'running', jobId, progress: null, error: null }));
  const onProgress = (event: GenerateProgressEvent) => useStudio.getState().updateGeneration((g) => withSlot(g, pairId, variant, (slot) => slotProgress(slot, event)));
  const job = engineClient().generate({ ...pair.settings, jobId, variant }, Comlink.proxy(onProgress));
  // A newer job may own the slot by the time this one ends: only the owner writes its outcome.
  const finish = (patch: Partial<ImageSlot>) =>
    useStudio.getState().updateGeneration((g) => withSlot(g, pairId, variant, (slot) => (slot.jobId === jobId ? patch : null)));
  try {
    const image: GeneratedImage = await job;
    finish({ state: 'done', image, error: null });
    return 'done';
  } catch (error) {
    const cancelled = cancelRequested.has(jobId) || (error as { name?: string })?.name === 'AbortError';
    finish(cancelled ? { state: 'cancelled' } : { state: 'error', error: describeEngineError(error, 'generate') });
    return cancelled ? 'cancelled' : 'error';
  } finally {
    cancelRequested.delete(jobId);
  }
}
