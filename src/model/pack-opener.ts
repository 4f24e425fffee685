import type { CacheInfo, DemoPreset, PackLoadProgress, PackSourceSpec, PackSummary } from './pack-spec.ts';
import { formatBytes } from '../gpu/device.ts';
import type { BlobCache } from './cache/blob-cache.ts';
import { MemoryBlobCache } from './cache/memory.ts';
import { OpfsBlobCache } from './cache/opfs.ts';
import { loadPackFiles, type LoadPackOptions, type PackFiles } from './loader.ts';
import { MANIFEST_FILE, type PackFamily, type PackManifest } from './manifest.ts';
import { diffusersPackSource, isDiffusersRepo } from './diffusers-pack-source.ts';
import { FileNotFoundError } from './sources/errors.ts';
import { DirectoryHandleSource, FileListSource } from './sources/browser-folder.ts';
import { HubSource } from './sources/hub.ts';
import type { PackSource } from './sources/pack-source.ts';

/** Supplies the built-in demo pack (the engine forges and converts it; tests inject their own). */
export type DemoPackProvider = (preset: DemoPreset) => Promise<PackSource>;

export interface OpenPackOptions {
  cache: BlobCache;
  onProgress?: (progress: PackLoadProgress) => void;
  signal?: AbortSignal;
  demoPack?: DemoPackProvider;
  /** fetch for hub sources (tests, proxies); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Use the manifest cached from the last load of the same source and make no requests. */
  offline?: boolean;
  /** Checks the manifest before any file is downloaded (LoadPackOptions.beforeDownload). */
  beforeDownload?: LoadPackOptions['beforeDownload'];
}

export interface OpenedPack {
  manifest: PackManifest;
  manifestSha256: string;
  files: PackFiles;
  source: PackSource;
  summary: PackSummary;
}

export const DEFAULT_DEMO_PRESET: DemoPreset = 'tiny-sd15';

/**
 * Opens a pack wherever it lives: resolves the spec to a source, reads the manifest and brings
 * every file into the cache (verified), reporting progress as phase 'manifest', then 'download'
 * per file (cached files once, with `cached: true`). Nothing outside the returned object changes,
 * so a failed open leaves whatever pack the caller had untouched. Errors are the sources' and the
 * loader's own (FileNotFoundError naming the pack path, SourceError, IntegrityError, FormatError);
 * describePackError() turns them into advice.
 */
export async function openPack(spec: PackSourceSpec, options: OpenPackOptions): Promise<OpenedPack> {
  const { onProgress, signal } = options;
  signal?.throwIfAborted();
  onProgress?.({ phase: 'manifest', bytesDone: 0, bytesTotal: 0, overallDone: 0, overallTotal: 0 });
  let source = await sourceForSpec(spec, options);
  // Per file: the first byte count seen (a resumed download starts above 0) and the last.
  const fetched = new Map<string, { first: number; last: number }>();
  const load = (from: PackSource) =>
    loadPackFiles(from, options.cache, {
      signal,
      offline: options.offline,
      beforeDownload: options.beforeDownload,
      onProgress: (p) => {
        if (!p.cached) {
          const seen = fetched.get(p.file);
          if (seen) seen.last = p.bytesDone;
          else fetched.set(p.file, { first: p.bytesDone, last: p.bytesDone });
        }
        onProgress?.({ phase: 'download', ...p });
      },
    });
  let files: PackFiles;
  try {
    files = await load(source);
  } catch (error) {
    // Most SD repos on the hub are diffusers repos, not Lethe packs: build the pack from them.
    if (!(error instanceof FileNotFoundError && error.path === MANIFEST_FILE) || options.offline || !(await isDiffusersRepo(source, signal))) throw error;
    source = await diffusersPackSource(source, onProgress, signal);
    files = await load(source);
  }
  let downloadedBytes = 0;
  for (const { first, last } of fetched.values()) downloadedBytes += last - first;
  return {
    manifest: files.manifest,
    manifestSha256: files.manifestSha256,
    files,
    source,
    summary: summarizePack(files.manifest, files.manifestSha256, source.description, downloadedBytes),
  };
}

/** The PackSource a spec names. Node-only and browser-only kinds fail with a message saying where they work. */
export async function sourceForSpec(spec: PackSourceSpec, options: Pick<OpenPackOptions, 'demoPack' | 'fetch'> = {}): Promise<PackSource> {
  switch (spec.kind) {
    case 'demo': {
      if (!options.demoPack) throw new Error('this engine has no built-in demo pack; load a pack from the hub or a folder');
      return options.demoPack(spec.preset ?? DEFAULT_DEMO_PRESET);
    }
    case 'hub':
      return new HubSource({
        repo: spec.repo.trim(),
        revision: blankToUndefined(spec.revision),
        endpoint: blankToUndefined(spec.endpoint),
        token: blankToUndefined(spec.token),
        fetch: options.fetch,
      });
    case 'directory':
      return new DirectoryHandleSource(spec.handle);
    case 'files':
      if (spec.files.length === 0) throw new RangeError('no files were picked; pick the pack folder (the one with manifest.json)');
      return new FileListSource(spec.files);
    case 'path': {
      if (!isNode()) throw new Error(`a file path (${spec.path}) can only be opened by the lethe CLI in Node; in the browser, pick the folder instead`);
      const { NodeFolderSource } = await importNodeOnly<typeof import('./sources/node-folder.ts')>('./sources/node-folder.ts');
      return new NodeFolderSource(spec.path);
    }
    default: {
      const unknown: never = spec;
      throw new RangeError(`unknown pack source kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

const FAMILY_NAMES: Record<PackFamily, string> = {
  sd15: 'Stable Diffusion 1.5',
  sd21: 'Stable Diffusion 2.1',
  'tiny-sd15': 'tiny SD 1.5-shaped demo model',
  'tiny-sd21': 'tiny SD 2.1-shaped demo model',
};

/** What the UI and CLI show about a loaded pack. */
export function summarizePack(manifest: PackManifest, manifestSha256: string, source: string, downloadedBytes = 0): PackSummary {
  const entries = Object.values(manifest.files);
  const bytes = entries.reduce((sum, entry) => sum + entry.bytes, 0);
  const layers = manifest.crossAttention.length;
  return {
    id: manifestSha256,
    family: manifest.family,
    dtype: manifest.dtype,
    description:
      `${FAMILY_NAMES[manifest.family]} (${manifest.family}), ${manifest.dtype}, ${formatBytes(bytes)} in ${entries.length} files, ` +
      `${layers} cross-attention layer${layers === 1 ? '' : 's'}, from ${source}`,
    crossAttentionLayers: layers,
    latentSize: manifest.dims.sampleSize,
    bytes,
    files: entries.length,
    downloadedBytes,
    source,
  };
}

/**
 * The platform's persistent cache: a directory in Node ($LETHE_CACHE_DIR or ~/.cache/lethe), the
 * origin private file system in browsers and workers, memory where neither exists (a private
 * window without OPFS: packs are still verified, but downloaded again next session).
 */
export async function defaultBlobCache(): Promise<BlobCache> {
  if (isNode()) {
    const { NodeDirBlobCache } = await importNodeOnly<typeof import('./cache/node-dir.ts')>('./cache/node-dir.ts');
    return new NodeDirBlobCache();
  }
  try {
    return await OpfsBlobCache.open();
  } catch {
    return new MemoryBlobCache();
  }
}

/** Size and count of what the cache holds, and the browser's storage quota where it says. */
export async function cacheInfo(cache: BlobCache): Promise<CacheInfo> {
  const [bytes, blobs] = await Promise.all([cache.sizeBytes(), cache.list()]);
  const info: CacheInfo = { description: cache.description, bytes, entries: blobs.length };
  const quota = await storageQuota();
  if (quota !== null) info.quotaBytes = quota;
  return info;
}

/** Removes every cached file, partial download and cached manifest. */
export async function clearCache(cache: BlobCache): Promise<void> {
  await cache.clear();
}

async function storageQuota(): Promise<number | null> {
  if (isNode() || typeof navigator === 'undefined' || typeof navigator.storage?.estimate !== 'function') return null;
  try {
    const { quota } = await navigator.storage.estimate();
    return typeof quota === 'number' ? quota : null;
  } catch {
    return null;
  }
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Imports a module that uses node: built-ins. The specifier is a variable that the bundler is told
 * to leave alone, so the browser build holds no node: imports (not even stubs); at run time it
 * resolves against this file, which the CLI (tsx) and the tests (vitest) load from source.
 */
function importNodeOnly<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
