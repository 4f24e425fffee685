import { mkdir, open as openFile, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { sha256HexSync } from '../../util/sha256.ts';
import { assertSha256, type BlobCache, type BlobWriter, type CachedBlob, type CachedBlobInfo, type WriteOptions } from './blob-cache.ts';
import { parseRefText } from './ref.ts';
import { isStorageFull, StorageFullError } from './storage-full.ts';
import { CacheWriteError } from '../../util/errors.ts';
import { nodeFileStream } from '../sources/node-file-stream.ts';
import { openVerifiedWriter, writeWholeStream, WriterRegistry, type PartialBlob } from './verified-writer.ts';

const PARTIAL = '.partial';

/** $LETHE_CACHE_DIR, else ~/.cache/lethe. */
export function defaultNodeCacheDir(): string {
  return process.env.LETHE_CACHE_DIR || join(homedir(), '.cache', 'lethe');
}

/**
 * BlobCache in a directory (Node: CLI and tests). Layout:
 *   blobs/<sha256>           complete, verified blobs
 *   blobs/<sha256>.partial   an interrupted download, resumed by the next writer
 *   refs/<sha256 of name>.json  {"name", "sha256"}
 * A blob appears by rename() of its verified partial, so readers never see half a file.
 */
export class NodeDirBlobCache implements BlobCache {
  readonly root: string;
  readonly description: string;
  private readonly writers = new WriterRegistry();

  /** Writes that would grow the cache past this fail as a full disk does (ENOSPC -> StorageFullError). */
  readonly quotaBytes: number | null;

  /** `quotaBytes` defaults to $LETHE_CACHE_MAX_BYTES (a cap on the cache's size; unset: the disk's). */
  constructor(root: string = defaultNodeCacheDir(), options: { quotaBytes?: number } = {}) {
    this.root = root;
    this.description = `cache ${root}`;
    this.quotaBytes = options.quotaBytes ?? quotaFromEnvironment();
  }

  private blobPath(sha256: string): string {
    assertSha256(sha256);
    return join(this.root, 'blobs', sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.sizeOf(sha256)) !== null;
  }

  async sizeOf(sha256: string): Promise<number | null> {
    const info = await stat(this.blobPath(sha256)).catch(ignoreMissing);
    return info && info.isFile() ? info.size : null;
  }

  async get(sha256: string): Promise<CachedBlob | null> {
    const path = this.blobPath(sha256);
    const size = await this.sizeOf(sha256);
    if (size === null) return null;
    return {
      size,
      stream: () => nodeFileStream(path, 0),
      bytes: async () => new Uint8Array(await readFile(path)),
    };
  }

  async put(sha256: string, stream: ReadableStream<Uint8Array>, options: WriteOptions = {}): Promise<void> {
    const writer = await this.openWriter(sha256, { ...options, resume: false });
    await writeWholeStream(writer, stream, options.signal);
  }

  async openWriter(sha256: string, options: WriteOptions & { resume?: boolean } = {}): Promise<BlobWriter> {
    const final = this.blobPath(sha256);
    const release = this.writers.claim(sha256, this.description);
    try {
      const partialPath = final + PARTIAL;
      await mkdir(join(this.root, 'blobs'), { recursive: true }).catch((error: unknown) => {
        throw notWritable(this.description, error);
      });
      let existing = (await stat(partialPath).catch(ignoreMissing))?.size ?? 0;
      const tooLong = options.expectedBytes !== undefined && existing > options.expectedBytes;
      if (options.resume === false || tooLong) {
        await rm(partialPath, { force: true });
        existing = 0;
      }
      const handle: FileHandle = await openFile(partialPath, 'a').catch((error: unknown) => {
        throw notWritable(this.description, error);
      });
      let used = this.quotaBytes === null ? 0 : await this.sizeBytes();
      const partial: PartialBlob = {
        existingBytes: existing,
        readExisting: () => nodeFileStream(partialPath, 0, existing),
        append: async (chunk) => {
          if (this.quotaBytes !== null && used + chunk.length > this.quotaBytes)
            throw Object.assign(new Error(`${this.description}: LETHE_CACHE_MAX_BYTES=${this.quotaBytes} reached`), { code: 'ENOSPC' });
          await handle.write(chunk);
          used += chunk.length;
        },
        promote: async () => {
          await handle.sync();
          await handle.close();
          await rename(partialPath, final);
        },
        discard: async () => {
          await handle.close().catch(() => undefined);
          await rm(partialPath, { force: true });
        },
        suspend: async () => {
          await handle.close();
        },
      };
      return await openVerifiedWriter(sha256, partial, options, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    const path = this.blobPath(sha256);
    await rm(path, { force: true });
    await rm(path + PARTIAL, { force: true });
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const name of await this.blobNames()) {
      const info = await stat(join(this.root, 'blobs', name)).catch(ignoreMissing);
      total += info?.size ?? 0;
    }
    return total;
  }

  async clear(): Promise<void> {
    await rm(join(this.root, 'blobs'), { recursive: true, force: true });
    await rm(join(this.root, 'refs'), { recursive: true, force: true });
  }

  async list(): Promise<CachedBlobInfo[]> {
    const out: CachedBlobInfo[] = [];
    for (const name of await this.blobNames()) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const info = await stat(join(this.root, 'blobs', name)).catch(ignoreMissing);
      if (info?.isFile()) out.push({ sha256: name, bytes: info.size });
    }
    return out.sort((a, b) => a.sha256.localeCompare(b.sha256));
  }

  async readRef(name: string): Promise<string | null> {
    const text = await readFile(this.refPath(name), 'utf8').catch(ignoreMissing);
    return text === null ? null : parseRefText(text, name);
  }

  async writeRef(name: string, sha256: string): Promise<void> {
    assertSha256(sha256);
    const path = this.refPath(name);
    try {
      await mkdir(join(this.root, 'refs'), { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify({ name, sha256 }));
      await rename(`${path}.tmp`, path);
    } catch (error) {
      await rm(`${path}.tmp`, { force: true }).catch(() => undefined);
      throw isStorageFull(error) ? new StorageFullError(this.description, `the ref ${name}`, 0, null, error) : notWritable(this.description, error);
    }
  }

  private refPath(name: string): string {
    return join(this.root, 'refs', `${sha256HexSync(new TextEncoder().encode(name))}.json`);
  }

  private async blobNames(): Promise<string[]> {
    return (await readdir(join(this.root, 'blobs')).catch(ignoreMissing)) ?? [];
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): null {
  // ENOTDIR: a file stands where a folder of the cache should be; nothing is cached there.
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
  throw error;
}

/** A cache folder that cannot be created or written (a file in the way, permissions, a read-only disk). */
function notWritable(description: string, error: unknown): Error {
  if (isStorageFull(error)) return error as Error;
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new CacheWriteError(`${description} cannot be written (${code}); make it a writable folder or set LETHE_CACHE_DIR to one`);
}

function quotaFromEnvironment(): number | null {
  const text = process.env.LETHE_CACHE_MAX_BYTES;
  if (text === undefined || text === '') return null;
  const bytes = Number(text);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new CacheWriteError(`LETHE_CACHE_MAX_BYTES must be a whole number of bytes, got "${text}"`);
  return bytes;
}
