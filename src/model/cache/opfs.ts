import { sha256HexSync } from '../../util/sha256.ts';
import { assertSha256, type BlobCache, type BlobWriter, type CachedBlob, type CachedBlobInfo, type WriteOptions } from './blob-cache.ts';
import { openVerifiedWriter, writeWholeStream, WriterRegistry, type PartialBlob } from './verified-writer.ts';
import { parseRefText } from './ref.ts';
import { lazyStream } from '../sources/streams.ts';
import { openInPlacePartial } from './opfs-in-place.ts';

/** Parts of the File System API that TypeScript's DOM lib lacks (async iteration, move()). */
interface IterableDirectoryHandle {
  values(): AsyncIterable<FileSystemDirectoryHandle | FileSystemFileHandle>;
}
interface MovableHandle {
  move(parent: FileSystemDirectoryHandle, name: string): Promise<void>;
}

/**
 * createWritable() writes into a swap file that replaces the real one only on close(), so a tab
 * closed mid-download would lose everything since the last close. Closing and reopening every
 * CHECKPOINT_BYTES keeps at most that much to download again after an interruption.
 */
const CHECKPOINT_BYTES = 64 * 1024 * 1024;
const PARTIAL = '.partial';

/**
 * BlobCache in the browser's origin private file system (navigator.storage.getDirectory()), same
 * layout as the Node cache: blobs/<sha256>, blobs/<sha256>.partial, refs/<sha256 of name>.json.
 * Writes go in place through a sync access handle in a dedicated worker (the engine's), and
 * through createWritable() with checkpoints elsewhere (opfs-in-place.ts says why).
 */
export class OpfsBlobCache implements BlobCache {
  readonly description: string;
  private readonly writers = new WriterRegistry();

  private constructor(
    private blobs: FileSystemDirectoryHandle,
    private refs: FileSystemDirectoryHandle,
    private readonly root: FileSystemDirectoryHandle,
    folder: string,
  ) {
    this.description = `browser storage (OPFS) /${folder}`;
  }

  /** Opens (creating) the cache folder in OPFS. */
  static async open(folder = 'lethe-cache'): Promise<OpfsBlobCache> {
    if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory)
      throw new Error('this browser has no origin private file system (navigator.storage.getDirectory); use MemoryBlobCache');
    const top = await navigator.storage.getDirectory();
    const root = await top.getDirectoryHandle(folder, { create: true });
    const blobs = await root.getDirectoryHandle('blobs', { create: true });
    const refs = await root.getDirectoryHandle('refs', { create: true });
    return new OpfsBlobCache(blobs, refs, root, folder);
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.sizeOf(sha256)) !== null;
  }

  async sizeOf(sha256: string): Promise<number | null> {
    const file = await this.file(sha256);
    return file ? file.size : null;
  }

  async get(sha256: string): Promise<CachedBlob | null> {
    const file = await this.file(sha256);
    if (!file) return null;
    return { size: file.size, stream: () => file.stream(), bytes: async () => new Uint8Array(await file.arrayBuffer()) };
  }

  async put(sha256: string, stream: ReadableStream<Uint8Array>, options: WriteOptions = {}): Promise<void> {
    await writeWholeStream(await this.openWriter(sha256, { ...options, resume: false }), stream, options.signal);
  }

  async openWriter(sha256: string, options: WriteOptions & { resume?: boolean } = {}): Promise<BlobWriter> {
    assertSha256(sha256);
    const release = this.writers.claim(sha256, this.description);
    try {
      const name = sha256 + PARTIAL;
      const handle = await this.blobs.getFileHandle(name, { create: true });
      const isFresh = (existingBytes: number) => options.resume === false || (options.expectedBytes !== undefined && existingBytes > options.expectedBytes);
      const inPlace = await openInPlacePartial(handle, isFresh);
      if (inPlace)
        return await openVerifiedWriter(
          sha256,
          {
            ...inPlace,
            promote: async () => {
              await inPlace.promote();
              await this.promotePartial(handle, sha256);
            },
            discard: async () => {
              await inPlace.discard();
              await this.blobs.removeEntry(name).catch(() => undefined);
            },
          },
          options,
          release,
        );
      let existing = (await handle.getFile()).size;
      const fresh = isFresh(existing);
      let writable = await handle.createWritable({ keepExistingData: !fresh });
      if (fresh) existing = 0;
      else await writable.seek(existing);
      let position = existing;
      let sinceCheckpoint = 0;
      const partial: PartialBlob = {
        existingBytes: existing,
        // getFile() sees the committed partial, not this writer's swap file
        readExisting: () => lazyStream(async () => (await handle.getFile()).slice(0, existing).stream()),
        append: async (chunk) => {
          await writable.write(chunk as Uint8Array<ArrayBuffer>);
          position += chunk.length;
          sinceCheckpoint += chunk.length;
          if (sinceCheckpoint >= CHECKPOINT_BYTES) {
            await writable.close();
            writable = await handle.createWritable({ keepExistingData: true });
            await writable.seek(position);
            sinceCheckpoint = 0;
          }
        },
        promote: async () => {
          await writable.close();
          await this.promotePartial(handle, sha256);
        },
        discard: async () => {
          await writable.abort().catch(() => undefined);
          await this.blobs.removeEntry(name).catch(() => undefined);
        },
        suspend: async () => {
          // Closing commits the swap file; when that fails too (storage full), the partial file
          // keeps what the last checkpoint committed.
          await writable.close().catch(() => writable.abort().catch(() => undefined));
        },
      };
      return await openVerifiedWriter(sha256, partial, options, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Makes the closed partial file `handle` the blob `sha256`. */
  private async promotePartial(handle: FileSystemFileHandle, sha256: string): Promise<void> {
    await this.blobs.removeEntry(sha256).catch(() => undefined);
    const movable = handle as unknown as Partial<MovableHandle>;
    if (typeof movable.move === 'function') {
      await movable.move(this.blobs, sha256);
    } else {
      const target = await (await this.blobs.getFileHandle(sha256, { create: true })).createWritable();
      await (await handle.getFile()).stream().pipeTo(target);
      await this.blobs.removeEntry(sha256 + PARTIAL);
    }
  }

  async delete(sha256: string): Promise<void> {
    assertSha256(sha256);
    await this.blobs.removeEntry(sha256).catch(ignoreNotFound);
    await this.blobs.removeEntry(sha256 + PARTIAL).catch(ignoreNotFound);
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for await (const entry of (this.blobs as unknown as IterableDirectoryHandle).values())
      if (entry.kind === 'file') total += (await entry.getFile()).size;
    return total;
  }

  async clear(): Promise<void> {
    for (const folder of ['blobs', 'refs']) {
      await this.root.removeEntry(folder, { recursive: true }).catch(ignoreNotFound);
      await this.root.getDirectoryHandle(folder, { create: true });
    }
    // the handles held so far point at the removed folders
    this.blobs = await this.root.getDirectoryHandle('blobs');
    this.refs = await this.root.getDirectoryHandle('refs');
  }

  async list(): Promise<CachedBlobInfo[]> {
    const out: CachedBlobInfo[] = [];
    for await (const entry of (this.blobs as unknown as IterableDirectoryHandle).values())
      if (entry.kind === 'file' && /^[0-9a-f]{64}$/.test(entry.name)) out.push({ sha256: entry.name, bytes: (await entry.getFile()).size });
    return out.sort((a, b) => a.sha256.localeCompare(b.sha256));
  }

  async readRef(name: string): Promise<string | null> {
    try {
      const file = await (await this.refs.getFileHandle(refFileName(name))).getFile();
      return parseRefText(await file.text(), name);
    } catch (error) {
      return ignoreNotFound(error);
    }
  }

  async writeRef(name: string, sha256: string): Promise<void> {
    assertSha256(sha256);
    const writable = await (await this.refs.getFileHandle(refFileName(name), { create: true })).createWritable();
    await writable.write(JSON.stringify({ name, sha256 }));
    await writable.close();
  }

  private async file(sha256: string): Promise<File | null> {
    assertSha256(sha256);
    try {
      return await (await this.blobs.getFileHandle(sha256)).getFile();
    } catch (error) {
      return ignoreNotFound(error);
    }
  }
}

function refFileName(name: string): string {
  return `${sha256HexSync(new TextEncoder().encode(name))}.json`;
}

function ignoreNotFound(error: unknown): null {
  if ((error as DOMException)?.name === 'NotFoundError') return null;
  throw error;
}
