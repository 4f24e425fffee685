import { create } from 'zustand';
import type { CacheInfo, DemoPreset, GpuStatus, KernelCheck, PackSummary } from '../engine/api.ts';
import type { PackErrorView } from '../model/pack-error-advice.ts';
import { initialConceptState, initialEditState, initialGenerationState, initialLoraState, type ConceptState, type EditState, type GenerationState, type LoraState } from './studio-state.ts';
import type { HubFields, ModelSourceChoice, PackLoadView, PickedFolder } from './model-load.ts';
import { initialGridState, initialTimingState, type GridState, type HistoryItem, type TimingState } from './workbench-state.ts';

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
  demoPreset: 'concept-world',
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
  /** The generation panel and the before/after pairs. */
  generation: GenerationState;
  /** The concept panel's form and measurements. */
  concept: ConceptState;
  /** The edit the engine applies now, and undo/redo. */
  edit: EditState;
  lora: LoraState;
  /** The comparison grid of the current and pinned edits. */
  grid: GridState;
  /** Every edit made, newest first (recipes survive a reload). */
  history: HistoryItem[];
  timings: TimingState;
  /** The diagnostics drawer (GPU, pack files, cache, self-test) is open. */
  diagnosticsOpen: boolean;
  /** What switching the method also changed, said until the next change of the form. */
  methodNote: string | null;
  setGpu(gpu: GpuStatus): void;
  setSelfTest(selfTest: SelfTestState): void;
  notify(message: string): void;
  /** Merges fields into the model slice; a function gets the current slice. */
  updateModel(patch: Partial<ModelState> | ((model: ModelState) => Partial<ModelState>)): void;
  updateGeneration(patch: Partial<GenerationState> | ((generation: GenerationState) => Partial<GenerationState>)): void;
  updateConcept(patch: Partial<ConceptState> | ((concept: ConceptState) => Partial<ConceptState>)): void;
  updateEdit(patch: Partial<EditState> | ((edit: EditState) => Partial<EditState>)): void;
  updateLora(patch: Partial<LoraState> | ((lora: LoraState) => Partial<LoraState>)): void;
  updateGrid(patch: Partial<GridState> | ((grid: GridState) => Partial<GridState>)): void;
  setHistory(history: HistoryItem[] | ((history: HistoryItem[]) => HistoryItem[])): void;
  updateTimings(patch: Partial<TimingState> | ((timings: TimingState) => Partial<TimingState>)): void;
  setDiagnosticsOpen(open: boolean): void;
  setMethodNote(note: string | null): void;
}

export const useStudio = create<StudioState>((set) => ({
  gpu: { state: 'connecting' },
  selfTest: { state: 'idle' },
  notices: [],
  model: initialModelState,
  generation: initialGenerationState(),
  concept: initialConceptState(),
  edit: initialEditState(),
  lora: initialLoraState(),
  grid: initialGridState(),
  history: [],
  timings: initialTimingState(),
  diagnosticsOpen: false,
  methodNote: null,
  setGpu: (gpu) => set({ gpu }),
  setSelfTest: (selfTest) => set({ selfTest }),
  notify: (message) => set((state) => ({ notices: [...state.notices.slice(-4), message] })),
  updateModel: (patch) => set((state) => ({ model: { ...state.model, ...(typeof patch === 'function' ? patch(state.model) : patch) } })),
  updateGeneration: (patch) => set((state) => ({ generation: { ...state.generation, ...(typeof patch === 'function' ? patch(state.generation) : patch) } })),
  updateConcept: (patch) => set((state) => ({ concept: { ...state.concept, ...(typeof patch === 'function' ? patch(state.concept) : patch) } })),
  updateEdit: (patch) => set((state) => ({ edit: { ...state.edit, ...(typeof patch === 'function' ? patch(state.edit) : patch) } })),
  updateLora: (patch) => set((state) => ({ lora: { ...state.lora, ...(typeof patch === 'function' ? patch(state.lora) : patch) } })),
  updateGrid: (patch) => set((state) => ({ grid: { ...state.grid, ...(typeof patch === 'function' ? patch(state.grid) : patch) } })),
  setHistory: (history) => set((state) => ({ history: typeof history === 'function' ? history(state.history) : history })),
  updateTimings: (patch) => set((state) => ({ timings: { ...state.timings, ...(typeof patch === 'function' ? patch(state.timings) : patch) } })),
  setDiagnosticsOpen: (diagnosticsOpen) => set({ diagnosticsOpen }),
  setMethodNote: (methodNote) => set({ methodNote }),
}));
