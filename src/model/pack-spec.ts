/**
 * The pack contracts: where a pack comes from, how its load progresses, what the loaded pack and
 * the cache are. The engine API re-exports them for the UI and the CLI.
 */

/**
 * The built-in demo packs: the concept world (a small model trained on emoji classes and styles,
 * shipped with the app) and two random SD-shaped models forged in the engine.
 */
export type DemoPreset = 'concept-world' | 'tiny-sd15' | 'tiny-sd21';
export const DEMO_PRESETS: readonly DemoPreset[] = ['concept-world', 'tiny-sd15', 'tiny-sd21'];
/** The demo presets the forge makes (random weights, for tests and diagnostics). */
export type ForgedDemoPreset = Exclude<DemoPreset, 'concept-world'>;

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
  /** The UNet's native latent side (64 for SD 1.5: 512 pixels); fine-tuning trains at it. */
  latentSize: number;
  /** Total size of the pack's files (manifest.json not counted). */
  bytes: number;
  /** Number of files in the pack (manifest.json not counted). */
  files: number;
  /** Bytes this load downloaded; the rest came from the cache. */
  downloadedBytes: number;
  /** Where the pack was read from, e.g. "hub huggingface.co/owner/name@main". */
  source: string;
  /** Restrictions the adapter puts on this pack, e.g. the largest image size whose buffers fit. */
  fitNotes?: string[];
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
