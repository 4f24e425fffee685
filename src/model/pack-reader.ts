import type { PackManifest } from './manifest.ts';

/**
 * A pack read by its manifest paths: what the pipeline, the training chain and the diagnostics
 * need of one. The loader's PackFiles is the full implementation (every read verified against
 * the manifest's sha256); tests and the in-memory demo pack implement it over a Map.
 */
export interface PackReader {
  readonly manifest: PackManifest;
  /** A whole file by its pack path. */
  bytes(path: string): Promise<Uint8Array>;
}
