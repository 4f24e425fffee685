import type { AdapterReport } from '../gpu/device.ts';
import type { SchedulerKind } from '../pipeline/schedulers/scheduler.ts';

// Contracts owned by the layers below, re-exported so that the UI and the CLI import one file.
export type { CacheInfo, DemoPreset, PackLoadProgress, PackSourceSpec, PackSummary } from '../model/pack-spec.ts';
export type { EditSummary, EraseRequest } from '../erasure/erase-request.ts';
export type { LoraExportOptions, LoraExportResult, LoraLayerError } from '../erasure/lora-export.ts';
export type { LoraImportSummary } from '../erasure/lora-import.ts';
export type { CandidateCheck, EncoderCheck, EncoderCheckRequest } from '../erasure/proposer/encoder-check.ts';
import type { EncoderCheck, EncoderCheckRequest } from '../erasure/proposer/encoder-check.ts';
import type { CacheInfo, PackLoadProgress, PackSourceSpec, PackSummary } from '../model/pack-spec.ts';
import type { EditSummary, EraseRequest } from '../erasure/erase-request.ts';
import type { LoraExportOptions, LoraExportResult } from '../erasure/lora-export.ts';
import type { LoraImportSummary } from '../erasure/lora-import.ts';

/** What the engine knows about its GPU, as the UI shows it. */
export type GpuStatus =
  | { state: 'ready'; report: AdapterReport; problems: string[] }
  | { state: 'unavailable'; message: string; advice: string[] };

export type { KernelCheck } from '../gpu/self-test.ts';
import type { KernelCheck } from '../gpu/self-test.ts';
export type { EvaluationImage, EvaluationProgressEvent, EvaluationRequest, EvaluationResult, EvaluationRunRequest } from '../evaluation/evaluate.ts';
import type { EvaluationProgressEvent, EvaluationRequest, EvaluationResult } from '../evaluation/evaluate.ts';
export type { SavedTraining, TrainingPreview, TrainingPreviewRequest, TrainProgressEvent, TrainRequest, TrainSummary } from '../erasure/fine-tune/train-request.ts';
import type { SavedTraining, TrainProgressEvent, TrainRequest, TrainSummary } from '../erasure/fine-tune/train-request.ts';

export type EngineEvent =
  | { type: 'device-lost'; reason: string; message: string }
  | { type: 'device-restored'; report: AdapterReport };

/**
 * The engine's typed surface: the worker exposes exactly this through comlink, the CLI calls
 * the same class directly. Callbacks arrive as comlink proxies from the UI thread.
 */
export interface EngineApi {
  /** Acquires the GPU (idempotent). Never throws: an unusable GPU is a status to show. */
  init(): Promise<GpuStatus>;
  status(): Promise<GpuStatus>;
  /** Runs every WGSL kernel once against a CPU reference. */
  selfTest(): Promise<KernelCheck[]>;
  /** Events not tied to a call (device loss and recovery). */
  subscribe(listener: (event: EngineEvent) => void): Promise<void>;

  /** Loads a pack (downloading what the cache lacks) and compiles its sessions. */
  loadPack(spec: PackSourceSpec, onProgress?: (progress: PackLoadProgress) => void): Promise<PackSummary>;
  cacheInfo(): Promise<CacheInfo>;
  clearCache(): Promise<void>;

  /** One image; `variant: 'edited'` uses the current edit (closed form or imported LoRA). */
  generate(params: GenerateParams, onProgress?: (progress: GenerateProgressEvent) => void): Promise<GeneratedImage>;
  /**
   * Keeps the current edit (`editId` must be current; true when kept, or already kept) so that
   * generate({ variant: 'edited', editId }) can still use it after another edit replaces it:
   * comparison columns of several edits with the same seeds. Dropped when a new pack loads.
   */
  keepEdit(editId: string): Promise<boolean>;
  /** Frees a kept edit (unless it is still the current one). */
  releaseKeptEdit(editId: string): Promise<void>;
  /** Stops a running generate() within one denoising step. */
  cancel(jobId: string): Promise<void>;
  /**
   * The evaluation protocol: each prompt at each seed from the original model and/or edits, judged;
   * Acc_e, Acc_s, Acc_g, H_o in a report that replays. Progress per image with an ETA; cancel(jobId) stops it.
   */
  evaluate(request: EvaluationRequest, onProgress?: (progress: EvaluationProgressEvent) => void): Promise<EvaluationResult>;

  /** Computes the closed-form edit and makes it current. */
  erase(request: EraseRequest): Promise<EditSummary>;
  /** Proposed corefs as the loaded pack's text encoder sees them: nearer the concept than any kept concept, or not. */
  checkCandidates(request: EncoderCheckRequest): Promise<EncoderCheck>;
  /** Recomputes an edit from its recipe JSON (undo/redo, or a recipe file). */
  applyRecipe(recipeJson: string): Promise<EditSummary>;
  clearEdit(): Promise<void>;
  /** How much the current edit moves the UNet's noise prediction for each prompt (same latent, seed, timestep). */
  measureEdit(prompts: string[], options?: { seed?: number; timestep?: number }): Promise<EditEffect[]>;

  exportLora(options: LoraExportOptions): Promise<LoraExportResult>;
  /** Opens a LoRA file and makes it the current edit at `strength`. */
  importLora(bytes: Uint8Array, fileName: string, strength: number): Promise<LoraImportSummary>;

  /**
   * Fine-tunes a LoRA from a recipe with a fineTune section (RealEra alignment, ESD-x, CRCE),
   * checkpointing to browser storage; the result becomes the current edit (exportLora writes it).
   * cancel(jobId) stops it before the next step; the last checkpoint stays.
   */
  train(request: TrainRequest, onProgress?: (progress: TrainProgressEvent) => void): Promise<TrainSummary>;
  /** Holds a running train() before its next step; resumeTraining continues it. */
  pauseTraining(jobId: string): Promise<void>;
  resumeTraining(jobId: string): Promise<void>;
  /** The saved checkpoint of a training recipe, if any: the studio offers to resume it after a reload. */
  savedTraining(recipeJson: string): Promise<SavedTraining | null>;
}

export interface GenerateParams {
  /** Chosen by the caller, so that cancel() can name the job before generate() returns. */
  jobId: string;
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps: number;
  guidance: number;
  scheduler: SchedulerKind;
  /** Pixels; default: the pack's native size. */
  width?: number;
  height?: number;
  variant: 'original' | 'edited';
  /** With 'edited': a kept edit (see keepEdit) instead of the current one. */
  editId?: string;
}

export interface GenerateProgressEvent {
  jobId: string;
  phase: 'encode' | 'denoise' | 'decode';
  step: number;
  steps: number;
}

export interface GeneratedImage {
  jobId: string;
  variant: 'original' | 'edited';
  width: number;
  height: number;
  /** RGBA, row-major, as canvas ImageData wants it. */
  rgba: Uint8ClampedArray;
  seed: number;
  ms: number;
  /** Which edit produced it (null for the original model). */
  editId: string | null;
}

export interface EditEffect {
  prompt: string;
  /** |eps_edited - eps_original| / |eps_original| for one fixed latent and timestep. */
  relativeChange: number;
}
