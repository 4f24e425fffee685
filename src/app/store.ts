import { create } from 'zustand';
import type { CacheInfo, DemoPreset, GpuStatus, KernelCheck, PackSummary } from '../engine/api.ts';
import type { PackErrorView } from '../model/pack-error-advice.ts';
import type { HubFields, ModelSourceChoice, PackLoadView, PickedFolder } from './model-load.ts';

export type SelfTestState =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'done'; checks: KernelCheck[]; ms: number }
  | { state: 'failed'; message: string };

export type PackLoadState = { state: 'idle' } | { state: 'loading'; startedAt: number } | { state: 'done'; ms: number } | { state: 'failed' };

/** The model panel: the source being chosen, the load under way, the pack in use and the cache. */
export interface ModelState {
  choice: ModelSourceChoice;
  demoPreset: DemoPreset;
  hub: HubFields;
  folder: PickedFolder | null;
  load: PackLoadState;
  /** Progress of the current or last load (kept after it ends, to show what was cached). */
  progress: PackLoadView | null;
  /** Why the last load failed; the pack in `loaded` stays in use. */
  error: PackErrorView | null;
  /** The pack the engine is using; replaced only by a load that succeeds. */
  loaded: PackSummary | null;
  cache: CacheInfo | null;
  cacheBusy: boolean;
  cacheError: string | null;
}

export const initialModelState: ModelState = {
  choice: 'demo',
  demoPreset: 'tiny-sd15',
  hub: { repo: '', revision: '', endpoint: '', token: '' },
  folder: null,
  load: { state: 'idle' },
  progress: null,
  error: null,
  loaded: null,
  cache: null,
  cacheBusy: false,
  cacheError: null,
};

export interface StudioState {
  gpu: GpuStatus | { state: 'connecting' };
  selfTest: SelfTestState;
  /** Non-fatal notices (device lost and restored, ...), newest last. */
  notices: string[];
  model: ModelState;
  setGpu(gpu: GpuStatus): void;
  setSelfTest(selfTest: SelfTestState): void;
  notify(message: string): void;
  /** Merges fields into the model slice; a function gets the current slice. */
  updateModel(patch: Partial<ModelState> | ((model: ModelState) => Partial<ModelState>)): void;
}

export const useStudio = create<StudioState>((set) => ({
  gpu: { state: 'connecting' },
  selfTest: { state: 'idle' },
  notices: [],
  model: initialModelState,
  setGpu: (gpu) => set({ gpu }),
  setSelfTest: (selfTest) => set({ selfTest }),
  notify: (message) => set((state) => ({ notices: [...state.notices.slice(-4), message] })),
  updateModel: (patch) => set((state) => ({ model: { ...state.model, ...(typeof patch === 'function' ? patch(state.model) : patch) } })),
}));
