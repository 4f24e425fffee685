import { Sha256 } from '../../util/sha256.ts';
import { IntegrityError, type BlobWriter, type WriteOptions } from './blob-cache.ts';
import { isStorageFull, StorageFullError } from './storage-full.ts';

/** The storage half of a writer: one partial blob that a cache implementation appends to. */
export interface PartialBlob {
  /** Bytes already in the partial blob when it was opened. */
  readonly existingBytes: number;
  /** The existing bytes, to hash them before appending. */
  readExisting(): ReadableStream<Uint8Array>;
  append(chunk: Uint8Array): Promise<void>;
  /** Makes the partial the complete blob. */
  promote(): Promise<void>;
  /** Deletes the partial data. */
  discard(): Promise<void>;
  /** Releases the partial, keeping its data. */
  suspend(): Promise<void>;
}

/**
 * A BlobWriter over any PartialBlob: hashes everything that goes in (the resumed prefix first),
 * refuses bytes beyond the expected size and lets the blob appear only with the right hash.
 */
export async function openVerifiedWriter(sha256: string, partial: PartialBlob, options: WriteOptions, release: () => void): Promise<BlobWriter> {
  const label = options.label ?? sha256;
  const expectedBytes = options.expectedBytes ?? null;
  const hasher = new Sha256();
  let finished = false;
  const finish = async (action: () => Promise<void>) => {
    if (finished) return;
    finished = true;
    try {
      await action();
    } finally {
      release();
    }
  };

  if (partial.existingBytes > 0) {
    try {
      const reader = partial.readExisting().getReader();
      for (;;) {
        options.signal?.throwIfAborted();
        const { done, value } = await reader.read();
        if (done) break;
        hasher.update(value);
      }
    } catch (error) {
      await finish(() => partial.suspend());
      throw error;
    }
    if (hasher.bytesHashed !== partial.existingBytes) {
      await finish(() => partial.discard());
      throw new Error(`${label}: partial download changed while it was read; it was discarded, retry`);
    }
  }

  let written = partial.existingBytes;
  return {
    sha256,
    offset: partial.existingBytes,
    get bytesWritten() {
      return written;
    },
    async write(chunk) {
      if (finished) throw new Error(`${label}: write() after the writer was closed`);
      if (expectedBytes !== null && written + chunk.length > expectedBytes) {
        const actual = written + chunk.length;
        await finish(() => partial.discard());
        throw new IntegrityError(label, sha256, null, expectedBytes, actual);
      }
      hasher.update(chunk);
      try {
        await partial.append(chunk);
      } catch (error) {
        if (!isStorageFull(error)) throw error;
        // Out of space: keep what was written for a resumed download once space is freed.
        await finish(() => partial.suspend());
        throw new StorageFullError('the cache', label, written, null, error);
      }
      written += chunk.length;
    },
    async commit() {
      if (finished) throw new Error(`${label}: commit() after the writer was closed`);
      if (expectedBytes !== null && written !== expectedBytes) {
        await finish(() => partial.discard());
        throw new IntegrityError(label, sha256, null, expectedBytes, written);
      }
      const actual = hasher.hexDigest();
      if (actual !== sha256) {
        await finish(() => partial.discard());
        throw new IntegrityError(label, sha256, actual, expectedBytes, written);
      }
      await finish(() => partial.promote());
    },
    async close({ keep = true } = {}) {
      await finish(() => (keep ? partial.suspend() : partial.discard()));
    },
  };
}

/** Writes a whole stream through a writer and commits it; any failure closes the writer keeping nothing. */
export async function writeWholeStream(writer: BlobWriter, stream: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      await writer.write(value);
    }
  } catch (error) {
    await writer.close({ keep: false });
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  await writer.commit();
}

/** Tracks which hashes have an open writer, so two downloads never append to one partial blob. */
export class WriterRegistry {
  private readonly open = new Set<string>();

  claim(sha256: string, where: string): () => void {
    if (this.open.has(sha256)) throw new Error(`${where}: blob ${sha256} is already being written`);
    this.open.add(sha256);
    return () => this.open.delete(sha256);
  }
}
