import type { PartialBlob } from './verified-writer.ts';

/** FileSystemSyncAccessHandle, as far as the cache uses it (only dedicated workers have it). */
interface SyncAccessHandle {
  getSize(): number;
  truncate(size: number): void;
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

interface SyncAccessCapable {
  createSyncAccessHandle?: () => Promise<SyncAccessHandle>;
}

/** Bytes per read when the resumed prefix is hashed again. */
const READ_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * A partial blob written in place through a sync access handle, or null where there is none (the
 * main thread; the engine's worker has one). createWritable() writes into a swap file, and each
 * checkpoint that makes a partial download survive a closed tab copies everything written so far
 * into a new swap file: quadratic in the file's size. Measured in Chromium 156 on 2 cores, 1 GiB
 * in 1 MiB chunks: 82 MiB/s through one writable, 20 MiB/s with 64 MiB checkpoints, 698 MiB/s
 * (2 GiB) in place. In place, what was written is in the file, so no checkpoint is needed.
 * `fresh(existing)` says whether to drop the bytes already there.
 */
export async function openInPlacePartial(handle: FileSystemFileHandle, fresh: (existingBytes: number) => boolean): Promise<PartialBlob | null> {
  const open = (handle as unknown as SyncAccessCapable).createSyncAccessHandle;
  if (typeof open !== 'function') return null;
  let access: SyncAccessHandle;
  try {
    access = await open.call(handle);
  } catch {
    // Another context holds the file (a second tab loading the same model): the swap-file path
    // does not need the exclusive lock.
    return null;
  }
  let existing = access.getSize();
  if (fresh(existing)) {
    access.truncate(0);
    existing = 0;
  }
  let position = existing;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    access.close();
  };
  return {
    existingBytes: existing,
    readExisting: () => {
      let offset = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          const length = Math.min(READ_CHUNK_BYTES, existing - offset);
          const chunk = new Uint8Array(Math.max(length, 0));
          const read = length > 0 ? access.read(chunk, { at: offset }) : 0;
          offset += read;
          // A short read ends the stream; the verified writer compares the count with existingBytes.
          if (read > 0) controller.enqueue(read === length ? chunk : chunk.subarray(0, read));
          if (read < READ_CHUNK_BYTES || offset >= existing) controller.close();
        },
      });
    },
    append: async (chunk) => {
      const written = access.write(chunk, { at: position });
      position += written;
      if (written !== chunk.length) {
        // A short write is the disk or the quota running out: keep what is there for a resume.
        access.truncate(position);
        throw new DOMException(`wrote ${written} of ${chunk.length} bytes`, 'QuotaExceededError');
      }
    },
    promote: async () => {
      access.flush();
      close();
    },
    discard: async () => {
      close();
    },
    suspend: async () => {
      try {
        access.flush();
      } finally {
        close();
      }
    },
  };
}
