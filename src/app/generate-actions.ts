import type { GeneratedImage, GenerateProgressEvent } from '../engine/api.ts';
import { Comlink, engineClient } from './engine-client.ts';
import { describeEngineError } from './engine-error-advice.ts';
import { pairSettingsFor, randomSeed } from './generate-form.ts';
import { useStudio } from './store.ts';
import { idleSlot, pendingJobs, shownPair, slotProgress, withNewPair, withSlot, type ImagePair, type ImageSlot, type Variant } from './studio-state.ts';

/**
 * Generation: a pair is the original model and the current edit, same settings and seed. The
 * engine worker runs one job at a time anyway, so the edited image waits for the original
 * ('queued') and each gets its own progress bar.
 */

let pairCounter = 0;
/** Jobs the user (or a newer edit) asked to stop: their rejection means 'cancelled', not 'error'. */
const cancelRequested = new Set<string>();
/** Settles when each running job has ended, so a restart never overlaps the job it replaces. */
const running = new Map<string, Promise<unknown>>();

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
 * Regenerates the erased side of the pair on show (same settings and seed) after the edit
 * changed. A pair still generating picks the new edit up by itself; an edited job already
 * running for an older edit is cancelled first.
 */
export async function regenerateEdited(): Promise<void> {
  const { generation, updateGeneration } = useStudio.getState();
  const pair = shownPair(generation);
  if (!pair || pair.original.state !== 'done' || pair.edited.state === 'queued') return;
  const previous = pair.edited.state === 'running' ? pair.edited.jobId : null;
  updateGeneration((g) => withSlot(g, pair.id, 'edited', { state: 'queued', error: null }));
  if (previous) {
    cancelRequested.add(previous);
    await engineClient().cancel(previous).catch(() => undefined);
    await running.get(previous);
  }
  await runJob(pair.id, 'edited');
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
  running.set(jobId, job.catch(() => undefined));
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
    running.delete(jobId);
  }
}
