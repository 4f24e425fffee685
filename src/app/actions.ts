import type { PackLoadProgress, PackSourceSpec } from '../engine/api.ts';
import { describePackError } from '../model/pack-error-advice.ts';
import { Comlink, engineClient } from './engine-client.ts';
import { applyPackProgress, pickedFolderName, specForChoice } from './model-load.ts';
import { resetGridForPack } from './grid-actions.ts';
import { useStudio } from './store.ts';
import { applySharedRecipe, readStartState, syncShareUrl } from './workbench-actions.ts';

/** UI actions: each asks the engine and puts the answer in the store. */
export async function connectEngine(): Promise<void> {
  const engine = engineClient();
  // The history and a shared link's model come first: the pack loaded below is the link's.
  readStartState();
  const { setGpu, notify } = useStudio.getState();
  await engine.subscribe(
    Comlink.proxy((event) => {
      if (event.type === 'device-lost') notify(`The GPU device was lost (${event.reason}: ${event.message}). It is re-acquired on the next action.`);
      else {
        notify(`GPU device restored on ${event.report.description || event.report.vendor}; reloading the model from the cache.`);
        void loadModelPack();
      }
    }),
  );
  const status = await engine.init();
  setGpu(status);
  // The studio opens ready to use: the built-in demo pack (the default choice) needs no download.
  if (status.state === 'ready' && !useStudio.getState().model.loaded) await loadModelPack();
  if (useStudio.getState().model.loaded) await applySharedRecipe();
}

export async function runSelfTest(): Promise<void> {
  const { setSelfTest } = useStudio.getState();
  setSelfTest({ state: 'running' });
  const started = performance.now();
  try {
    const checks = await engineClient().selfTest();
    setSelfTest({ state: 'done', checks, ms: performance.now() - started });
  } catch (error) {
    setSelfTest({ state: 'failed', message: (error as Error).message });
  }
}

/** Numbers the loads, so progress from a load that is no longer current is ignored. */
let loadCounter = 0;

/**
 * Loads the pack the model panel describes. The pack in use (`model.loaded`) is replaced only when
 * the engine reports success, so a failed load leaves the previous pack working.
 */
export async function loadModelPack(): Promise<void> {
  const { model, updateModel } = useStudio.getState();
  if (model.load.state === 'loading') return;
  let spec: PackSourceSpec;
  try {
    spec = specForChoice(model);
  } catch (error) {
    updateModel({ error: { title: (error as Error).message, detail: '', advice: '' }, load: { state: 'failed' } });
    return;
  }
  const load = ++loadCounter;
  const startedAt = performance.now();
  updateModel({ load: { state: 'loading', startedAt }, progress: null, error: null });
  const onProgress = (progress: PackLoadProgress) => {
    if (load === loadCounter) updateModel((m) => ({ progress: applyPackProgress(m.progress, progress) }));
  };
  try {
    const summary = await engineClient().loadPack(spec, Comlink.proxy(onProgress));
    if (load !== loadCounter) return;
    const packChanged = useStudio.getState().model.loaded?.id !== summary.id;
    updateModel({ loaded: summary, load: { state: 'done', ms: performance.now() - startedAt } });
    // The engine dropped the edit and every kept one with the old pack.
    if (packChanged) resetGridForPack();
    else useStudio.getState().updateGrid({ edits: [], previousId: null });
    useStudio.getState().updateEdit({ active: null, formSignature: null });
    syncShareUrl();
  } catch (error) {
    if (load !== loadCounter) return;
    updateModel({ error: describePackError(error, spec.kind), load: { state: 'failed' } });
  }
  await refreshCacheInfo();
}

/** Asks the engine how much its pack cache holds. */
export async function refreshCacheInfo(): Promise<void> {
  const { updateModel } = useStudio.getState();
  try {
    updateModel({ cache: await engineClient().cacheInfo(), cacheError: null });
  } catch (error) {
    updateModel({ cacheError: `The cache size is unavailable: ${(error as Error).message}` });
  }
}

/** Empties the pack cache; the pack in use re-downloads files it reads later. */
export async function clearModelCache(): Promise<void> {
  const { updateModel } = useStudio.getState();
  updateModel({ cacheBusy: true });
  try {
    await engineClient().clearCache();
    updateModel({ cacheError: null });
  } catch (error) {
    updateModel({ cacheError: `The cache could not be cleared: ${(error as Error).message}` });
  } finally {
    updateModel({ cacheBusy: false });
  }
  await refreshCacheInfo();
}

/** The File System Access API's folder picker, where the browser has one (Chrome, Edge). */
type DirectoryPicker = (options?: { id?: string; mode?: 'read' | 'readwrite' }) => Promise<FileSystemDirectoryHandle>;

export function canPickDirectory(): boolean {
  return typeof (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker === 'function';
}

/** Opens the folder picker; a dismissed picker changes nothing. */
export async function pickModelFolder(): Promise<void> {
  const { updateModel } = useStudio.getState();
  const picker = (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
  if (!picker) return;
  try {
    const handle = await picker({ id: 'lethe-pack', mode: 'read' });
    updateModel({ choice: 'folder', folder: { kind: 'directory', name: handle.name, handle }, error: null });
  } catch (error) {
    if ((error as DOMException).name === 'AbortError') return;
    updateModel({ error: { title: 'The folder could not be opened.', detail: (error as Error).message, advice: 'Pick the folder again, and allow Lethe to read it.' } });
  }
}

/** Takes the files of an `<input type="file" webkitdirectory>`. */
export function takeModelFiles(list: FileList | null): void {
  const files = list ? [...list] : [];
  if (files.length === 0) return;
  useStudio.getState().updateModel({ choice: 'folder', folder: { kind: 'files', name: pickedFolderName(files), files }, error: null });
}
