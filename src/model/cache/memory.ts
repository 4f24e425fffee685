import { assertSha256, type BlobCache, type BlobWriter, type CachedBlob, type CachedBlobInfo, type WriteOptions } from './blob-cache.ts';
import { openVerifiedWriter, writeWholeStream, WriterRegistry, type PartialBlob } from './verified-writer.ts';
import { concatBytes } from '../sources/streams.ts';

/**
 * BlobCache in memory: for tests, and for browsers without OPFS (private windows), where a pack
 * must be downloaded again next session but is still verified on the way in.
 */
export class MemoryBlobCache implements BlobCache {
  readonly description = 'memory cache';
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly partials = new Map<string, Uint8Array[]>();
  private readonly refs = new Map<string, string>();
  private readonly writers = new WriterRegistry();

  /** Writes that would grow the cache past this fail as a browser's full storage does (QuotaExceededError). */
  quotaBytes: number | undefined;

  constructor(options: { quotaBytes?: number } = {}) {
    this.quotaBytes = options.quotaBytes;
  }

  async has(sha256: string): Promise<boolean> {
    assertSha256(sha256);
    return this.blobs.has(sha256);
  }

  async sizeOf(sha256: string): Promise<number | null> {
    assertSha256(sha256);
    return this.blobs.get(sha256)?.length ?? null;
  }

  async get(sha256: string): Promise<CachedBlob | null> {
    assertSha256(sha256);
    const data = this.blobs.get(sha256);
    if (!data) return null;
    return {
      size: data.length,
      stream: () => bytesStream(data),
      bytes: async () => data.slice(),
    };
  }

  async put(sha256: string, stream: ReadableStream<Uint8Array>, options: WriteOptions = {}): Promise<void> {
    await writeWholeStream(await this.openWriter(sha256, { ...options, resume: false }), stream, options.signal);
  }

  async openWriter(sha256: string, options: WriteOptions & { resume?: boolean } = {}): Promise<BlobWriter> {
    assertSha256(sha256);
    const release = this.writers.claim(sha256, this.description);
    let chunks = this.partials.get(sha256) ?? [];
    const existing = chunks.reduce((n, c) => n + c.length, 0);
    if (options.resume === false || (options.expectedBytes !== undefined && existing > options.expectedBytes)) chunks = [];
    this.partials.set(sha256, chunks);
    const existingBytes = chunks.reduce((n, c) => n + c.length, 0);
    const partial: PartialBlob = {
      existingBytes,
      readExisting: () => bytesStream(concatBytes(chunks)),
      append: async (chunk) => {
        const quota = this.quotaBytes;
        if (quota !== undefined && (await this.sizeBytes()) + chunk.length > quota)
          throw new DOMException(`${this.description}: quota of ${quota} bytes exceeded`, 'QuotaExceededError');
        chunks.push(chunk.slice());
      },
      promote: async () => {
        this.blobs.set(sha256, concatBytes(chunks));
        this.partials.delete(sha256);
      },
      discard: async () => void this.partials.delete(sha256),
      suspend: async () => undefined,
    };
    return openVerifiedWriter(sha256, partial, options, release).catch((error: unknown) => {
      release();
      throw error;
    });
  }

  async delete(sha256: string): Promise<void> {
    assertSha256(sha256);
    this.blobs.delete(sha256);
    this.partials.delete(sha256);
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const data of this.blobs.values()) total += data.length;
    for (const chunks of this.partials.values()) for (const chunk of chunks) total += chunk.length;
    return total;
  }

  async clear(): Promise<void> {
    this.blobs.clear();
    this.partials.clear();
    this.refs.clear();
  }

  async list(): Promise<CachedBlobInfo[]> {
    return [...this.blobs].map(([sha256, data]) => ({ sha256, bytes: data.length })).sort((a, b) => a.sha256.localeCompare(b.sha256));
  }

  async readRef(name: string): Promise<string | null> {
    return this.refs.get(name) ?? null;
  }

  async writeRef(name: string, sha256: string): Promise<void> {
    assertSha256(sha256);
    this.refs.set(name, sha256);
  }

  /** Test hook: the stored bytes themselves (to corrupt them on purpose). */
  rawBlob(sha256: string): Uint8Array | undefined {
    return this.blobs.get(sha256);
  }
}

function bytesStream(data: Uint8Array, chunkBytes = 1 << 16): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        return;
      }
      controller.enqueue(data.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}
