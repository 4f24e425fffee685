import type { AdapterReport } from '../gpu/device.ts';
import type { ConceptSetInput } from '../erasure/concept-sets.ts';
import type { ClosedFormSolver } from '../erasure/closed-form.ts';
import type { RealEraOptions } from '../erasure/realera.ts';
import type { ErasureMethod } from '../erasure/recipe.ts';
import type { TokenSelectionMode } from '../erasure/token-selection.ts';
import type { SchedulerKind } from '../pipeline/schedulers/scheduler.ts';

/** What the engine knows about its GPU, as the UI shows it. */
export type GpuStatus =
  | { state: 'ready'; report: AdapterReport; problems: string[] }
  | { state: 'unavailable'; message: string; advice: string[] };

export type { KernelCheck } from '../gpu/self-test.ts';
import type { KernelCheck } from '../gpu/self-test.ts';

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

  /** Computes the closed-form edit and makes it current. */
  erase(request: EraseRequest): Promise<EditSummary>;
  /** Recomputes an edit from its recipe JSON (undo/redo, or a recipe file). */
  applyRecipe(recipeJson: string): Promise<EditSummary>;
  clearEdit(): Promise<void>;
  /** How much the current edit moves the UNet's noise prediction for each prompt (same latent, seed, timestep). */
  measureEdit(prompts: string[], options?: { seed?: number; timestep?: number }): Promise<EditEffect[]>;

  exportLora(options: LoraExportOptions): Promise<LoraExportResult>;
  /** Opens a LoRA file and makes it the current edit at `strength`. */
  importLora(bytes: Uint8Array, fileName: string, strength: number): Promise<LoraImportSummary>;
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

export interface EraseRequest {
  concepts: ConceptSetInput;
  method: ErasureMethod;
  /** Prompt templates with one "{}" each; default: the concept kind's templates. */
  templates?: string[];
  tokens: TokenSelectionMode;
  /** RealEra sampling (method 'realera'); seed defaults to 0. */
  realera?: { options?: Partial<RealEraOptions>; seed?: number };
  closedForm?: { lambda?: number; eraseScale?: number; preserveScale?: number; solver?: ClosedFormSolver };
}

export interface EditSummary {
  /** sha256 of the canonical recipe: identifies the edit. */
  id: string;
  /** Canonical recipe JSON: recomputes this edit bit for bit. */
  recipe: string;
  eraseVectors: number;
  preserveVectors: number;
  /** Rank of W' - W (= erase vectors). */
  rank: number;
  neighbors: number;
  beyond: number;
  solver: string;
  ms: { encode: number; sample: number; solve: number; total: number };
}

export interface EditEffect {
  prompt: string;
  /** |eps_edited - eps_original| / |eps_original| for one fixed latent and timestep. */
  relativeChange: number;
}

export interface LoraExportOptions {
  convention: 'diffusers' | 'kohya';
  /** 'exact': rank = erase vectors, no truncation; a number: truncated SVD to that rank. */
  rank: 'exact' | number;
  dtype: 'fp16' | 'fp32';
}

export interface LoraLayerError {
  module: string;
  rank: number;
  /** |Delta - Delta_r|_F / |Delta|_F (0 for exact exports). */
  relativeError: number;
}

export interface LoraExportResult {
  bytes: Uint8Array;
  fileName: string;
  rank: number;
  layers: LoraLayerError[];
  worstRelativeError: number;
}

export interface LoraImportSummary {
  fileName: string;
  strength: number;
  /** Projections the file changes and Lethe applied. */
  applied: string[];
  /** Keys Lethe does not apply (self-attention, convolutions, text encoder, ...), listed, never dropped silently. */
  notApplied: string[];
  editId: string;
}

/** The built-in demo packs (forged in the engine, no download). */
export type DemoPreset = 'tiny-sd15' | 'tiny-sd21';

/** Where a model pack comes from. Browser-only kinds carry handles the worker can read. */
export type PackSourceSpec =
  | { kind: 'demo'; preset?: DemoPreset }
  | { kind: 'hub'; repo: string; revision?: string; endpoint?: string; token?: string }
  | { kind: 'directory'; handle: FileSystemDirectoryHandle }
  | { kind: 'files'; files: File[] }
  | { kind: 'path'; path: string };

export interface PackLoadProgress {
  phase: 'manifest' | 'download' | 'prepare' | 'compile' | 'ready';
  file?: string;
  bytesDone: number;
  bytesTotal: number;
  overallDone: number;
  overallTotal: number;
  cached?: boolean;
}

export interface PackSummary {
  /** sha256 of the pack's manifest.json: identifies the exact weights. */
  id: string;
  family: string;
  dtype: string;
  description: string;
  crossAttentionLayers: number;
  /** Total size of the pack's files (manifest.json not counted). */
  bytes: number;
  /** Number of files in the pack (manifest.json not counted). */
  files: number;
  /** Bytes this load downloaded; the rest came from the cache. */
  downloadedBytes: number;
  /** Where the pack was read from, e.g. "hub huggingface.co/owner/name@main". */
  source: string;
}

export interface CacheInfo {
  /** Where the cache lives, e.g. "browser storage (OPFS) /lethe-cache". */
  description: string;
  /** Bytes used, partial downloads included. */
  bytes: number;
  /** Complete cached files. */
  entries: number;
  /** Storage quota reported by the browser, when it says. */
  quotaBytes?: number;
}
