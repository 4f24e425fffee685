import { FormatError } from '../util/errors.ts';
import { Sha256, sha256Hex } from '../util/sha256.ts';
import { IntegrityError, type BlobCache, type BlobWriter } from './cache/blob-cache.ts';
import { StorageFullError } from './cache/storage-full.ts';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, parseManifest, type PackFileEntry, type PackManifest } from './manifest.ts';
import { FileNotFoundError, SourceError } from './sources/errors.ts';
import type { PackSource } from './sources/pack-source.ts';
import { readBytes } from './sources/read.ts';
import type { PackReader } from './pack-reader.ts';

export interface LoadProgress {
  /** Pack path of the file being fetched. */
  file: string;
  bytesDone: number;
  bytesTotal: number;
  /** All files of this load, cached ones counted as done. */
  overallDone: number;
  overallTotal: number;
  /** True when the file was already in the cache (no request made). */
  cached: boolean;
}

export interface LoadPackOptions {
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** Use the manifest cached from this source on the last load and make no requests at all. */
  offline?: boolean;
  /**
   * How a cached file is checked before the load counts it as present: 'size' (default; the
   * hash is checked anyway whenever the file is read through PackFiles) or 'hash' (rehash now).
   */
  verifyCached?: 'size' | 'hash';
  /** Files to fetch now (default: every file of the manifest); the others are fetched on first read. */
  paths?: readonly string[];
  /** Attempts after an interrupted transfer of one file, each resuming where the last stopped. Default 3. */
  retries?: number;
  /** Minimum time between two progress events of one file (first and last are always sent). Default 50. */
  progressIntervalMs?: number;
  /**
   * Called with the manifest and the hashes already complete in the cache, before any file is
   * fetched: a rejection stops the load with nothing downloaded (see model/fit-check.ts).
   */
  beforeDownload?: (manifest: PackManifest, cached: ReadonlySet<string>) => void | Promise<void>;
}

/** The files of a loaded pack, read from the cache and verified against the manifest. */
export interface PackFiles extends PackReader {
  readonly manifestSha256: string;
  readonly source: PackSource;
  readonly cache: BlobCache;
  entry(path: string): PackFileEntry;
  /**
   * A whole file, its sha256 checked (WebCrypto) on every read. A cached copy that fails the
   * check is deleted and fetched again once (not when offline).
   */
  bytes(path: string, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  text(path: string, options?: { signal?: AbortSignal }): Promise<string>;
  /** A file as a stream (for files too large for one buffer); errors at its end if the hash does not match. */
  stream(path: string, options?: { signal?: AbortSignal }): Promise<ReadableStream<Uint8Array>>;
}

/**
 * Loads a pack: reads manifest.json from the source (fresh, bypassing HTTP caches; from the cache
 * when offline), then makes sure every file is in the content-addressed cache. A file whose
 * sha256 is cached costs no request; the others are streamed into the cache, resuming partial
 * downloads with Range requests, and verified (size and sha256) before they count as loaded.
 * Files are fetched one after another, in manifest order.
 */
export async function loadPackFiles(source: PackSource, cache: BlobCache, options: LoadPackOptions = {}): Promise<PackFiles> {
  const { signal } = options;
  signal?.throwIfAborted();
  const { manifest, manifestSha256 } = options.offline ? await cachedManifest(source, cache) : await freshManifest(source, cache, signal);
  const fetcher = new FileFetcher(source, cache, manifest, options);

  const paths = options.paths ?? Object.keys(manifest.files);
  for (const path of paths) if (!Object.hasOwn(manifest.files, path)) throw new RangeError(`${path} is not a file of this pack`);
  const overallTotal = paths.reduce((sum, path) => sum + manifest.files[path].bytes, 0);
  if (options.beforeDownload) {
    const cached = new Set<string>();
    for (const entry of Object.values(manifest.files)) if ((await cache.sizeOf(entry.sha256)) === entry.bytes) cached.add(entry.sha256);
    await options.beforeDownload(manifest, cached);
  }
  let overallDone = 0;
  for (const path of paths) {
    const entry = manifest.files[path];
    const present = await isCached(cache, entry, options.verifyCached ?? 'size');
    if (present) {
      overallDone += entry.bytes;
      options.onProgress?.({ file: path, bytesDone: entry.bytes, bytesTotal: entry.bytes, overallDone, overallTotal, cached: true });
      continue;
    }
    const before = overallDone;
    try {
      await fetcher.fetch(path, (bytesDone) =>
        options.onProgress?.({ file: path, bytesDone, bytesTotal: entry.bytes, overallDone: before + bytesDone, overallTotal, cached: false }),
      );
    } catch (error) {
      // Say how much more space the whole load needs, not only this file.
      if (!(error instanceof StorageFullError)) throw error;
      let needed = entry.bytes - error.keptBytes;
      for (const later of paths.slice(paths.indexOf(path) + 1)) {
        const { sha256, bytes } = manifest.files[later];
        if ((await cache.sizeOf(sha256)) !== bytes) needed += bytes;
      }
      throw error.withNeededBytes(cache.description, needed);
    }
    overallDone += entry.bytes;
  }
  return new CachedPackFiles(manifest, manifestSha256, source, cache, fetcher, options.offline ?? false);
}

async function freshManifest(source: PackSource, cache: BlobCache, signal?: AbortSignal) {
  const bytes = await readBytes(source, MANIFEST_FILE, { fresh: true, signal, maxBytes: MAX_MANIFEST_BYTES });
  const manifest = parseManifest(decodeUtf8(bytes, source), `${MANIFEST_FILE} (${source.description})`);
  // Keep this manifest for offline loads of the same source.
  const manifestSha256 = await sha256Hex(bytes);
  if (!(await cache.has(manifestSha256))) await cache.put(manifestSha256, new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), { label: MANIFEST_FILE });
  await cache.writeRef(manifestRef(source), manifestSha256);
  return { manifest, manifestSha256 };
}

async function cachedManifest(source: PackSource, cache: BlobCache) {
  const manifestSha256 = await cache.readRef(manifestRef(source));
  const blob = manifestSha256 ? await cache.get(manifestSha256) : null;
  if (!manifestSha256 || !blob) throw new Error(`offline: no manifest of ${source.description} in ${cache.description}; load it once online`);
  const bytes = await blob.bytes();
  const actual = await sha256Hex(bytes);
  if (actual !== manifestSha256) {
    await cache.delete(manifestSha256);
    throw new IntegrityError(`${MANIFEST_FILE} (cached)`, manifestSha256, actual, null, bytes.length);
  }
  return { manifest: parseManifest(decodeUtf8(bytes, source), `${MANIFEST_FILE} (${cache.description})`), manifestSha256 };
}

function manifestRef(source: PackSource): string {
  return `manifest:${source.id}`;
}

function decodeUtf8(bytes: Uint8Array, source: PackSource): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`${MANIFEST_FILE} (${source.description})`, '(text)', 'is not valid UTF-8');
  }
}

async function isCached(cache: BlobCache, entry: PackFileEntry, verify: 'size' | 'hash'): Promise<boolean> {
  const size = await cache.sizeOf(entry.sha256);
  if (size === null) return false;
  if (size === entry.bytes && verify === 'size') return true;
  if (size === entry.bytes) {
    const blob = await cache.get(entry.sha256);
    if (blob && (await hashStream(blob.stream())) === entry.sha256) return true;
  }
  // A cached blob of the wrong size or hash was damaged after it was stored: drop it, fetch again.
  await cache.delete(entry.sha256);
  return false;
}

async function hashStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hasher = new Sha256();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return hasher.hexDigest();
    hasher.update(value);
  }
}

/** A transfer that stopped early and can be resumed (network drop, server error, short body). */
class InterruptedTransfer extends Error {
  override readonly name = 'InterruptedTransfer';
}

/** Downloads one file at a time into the cache, resuming and retrying interrupted transfers. */
class FileFetcher {
  constructor(
    private readonly source: PackSource,
    private readonly cache: BlobCache,
    private readonly manifest: PackManifest,
    private readonly options: LoadPackOptions,
  ) {}

  async fetch(path: string, onBytes: (bytesDone: number) => void, signal = this.options.signal): Promise<void> {
    const entry = this.manifest.files[path];
    if (this.options.offline) throw new Error(`offline: ${path} (sha256 ${entry.sha256}) is not in ${this.cache.description}`);
    const retries = this.options.retries ?? 3;
    const interval = this.options.progressIntervalMs ?? 50;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const writer = await this.cache.openWriter(entry.sha256, { expectedBytes: entry.bytes, label: path, signal });
      try {
        await this.transfer(path, entry, writer, onBytes, interval, signal);
        return;
      } catch (error) {
        // The writer is closed (keeping the partial data) unless commit() already discarded it.
        await writer.close({ keep: true });
        if (!(error instanceof InterruptedTransfer) || signal?.aborted) throw signal?.aborted ? signal.reason : error;
        if (attempt >= retries)
          throw new Error(`${path}: download interrupted ${attempt + 1} times (last: ${error.message}); ${writer.bytesWritten} of ${entry.bytes} bytes are kept and the next load resumes from there`);
        await sleep(Math.min(100 * 2 ** attempt, 2000), signal);
      }
    }
  }

  private async transfer(
    path: string,
    entry: PackFileEntry,
    writer: BlobWriter,
    onBytes: (bytesDone: number) => void,
    interval: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    onBytes(writer.bytesWritten);
    if (writer.bytesWritten < entry.bytes) {
      let opened;
      try {
        opened = await this.source.open(path, { offset: writer.offset, signal });
      } catch (error) {
        throw transient(error) ? new InterruptedTransfer(describeError(error)) : error;
      }
      if (opened.size !== null && opened.size !== entry.bytes) {
        await opened.stream.cancel().catch(() => undefined);
        await writer.close({ keep: false });
        throw new IntegrityError(`${path} (${opened.location})`, entry.sha256, null, entry.bytes, opened.size);
      }
      const reader = opened.stream.getReader();
      let lastEvent = Date.now();
      try {
        for (;;) {
          signal?.throwIfAborted();
          const { done, value } = await reader.read();
          if (done) break;
          await writer.write(value);
          const now = Date.now();
          if (now - lastEvent >= interval) {
            lastEvent = now;
            onBytes(writer.bytesWritten);
          }
        }
      } catch (error) {
        await reader.cancel().catch(() => undefined);
        if (error instanceof IntegrityError || error instanceof StorageFullError || signal?.aborted) throw error;
        throw new InterruptedTransfer(describeError(error));
      }
      if (writer.bytesWritten < entry.bytes)
        throw new InterruptedTransfer(`the body ended after ${writer.bytesWritten} of ${entry.bytes} bytes`);
    }
    await writer.commit();
    onBytes(entry.bytes);
  }
}

/** Network failures and server-side errors are worth a resumed retry; 4xx answers and missing files are not. */
function transient(error: unknown): boolean {
  if (error instanceof FileNotFoundError) return false;
  if (error instanceof SourceError) return error.status === null || error.status >= 500 || error.status === 408 || error.status === 429;
  return error instanceof TypeError; // fetch's "network error"
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause?.code || cause?.message ? `${message} (${cause.code ?? cause.message})` : message;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

class CachedPackFiles implements PackFiles {
  constructor(
    readonly manifest: PackManifest,
    readonly manifestSha256: string,
    readonly source: PackSource,
    readonly cache: BlobCache,
    private readonly fetcher: FileFetcher,
    private readonly offline: boolean,
  ) {}

  entry(path: string): PackFileEntry {
    if (!Object.hasOwn(this.manifest.files, path)) throw new RangeError(`${path} is not a file of this pack (${this.source.description})`);
    return this.manifest.files[path];
  }

  async bytes(path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const entry = this.entry(path);
    for (let attempt = 0; ; attempt++) {
      const blob = await this.cache.get(entry.sha256);
      if (blob) {
        const data = await blob.bytes();
        const actual = data.length === entry.bytes ? await sha256Hex(data) : null;
        if (actual === entry.sha256) return data;
        // The cached copy was damaged after it was verified (disk, another program): refetch once.
        await this.cache.delete(entry.sha256);
        if (attempt > 0 || this.offline)
          throw new IntegrityError(`${path} (cached in ${this.cache.description})`, entry.sha256, actual, entry.bytes, data.length);
      }
      await this.fetcher.fetch(path, () => undefined, options.signal);
    }
  }

  async text(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const bytes = await this.bytes(path, options);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new FormatError(path, '(text)', 'is not valid UTF-8');
    }
  }

  async stream(path: string, options: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const entry = this.entry(path);
    let blob = await this.cache.get(entry.sha256);
    if (!blob || blob.size !== entry.bytes) {
      if (blob) await this.cache.delete(entry.sha256);
      await this.fetcher.fetch(path, () => undefined, options.signal);
      blob = await this.cache.get(entry.sha256);
      if (!blob) throw new Error(`${path}: missing from ${this.cache.description} right after it was stored`);
    }
    const hasher = new Sha256();
    const cache = this.cache;
    return blob.stream().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hasher.update(chunk);
          controller.enqueue(chunk);
        },
        async flush() {
          const actual = hasher.hexDigest();
          if (actual !== entry.sha256) {
            await cache.delete(entry.sha256);
            throw new IntegrityError(`${path} (cached in ${cache.description})`, entry.sha256, actual, entry.bytes, hasher.bytesHashed);
          }
        },
      }),
    );
  }
}
