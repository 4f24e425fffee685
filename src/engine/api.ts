import type { AdapterReport } from '../gpu/device.ts';

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
