import { open as openFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;

/** Bytes [start, end) of a file as a web ReadableStream, read in 1 MiB chunks; the file opens on first read. */
export function nodeFileStream(path: string, start: number, end = Number.POSITIVE_INFINITY): ReadableStream<Uint8Array> {
  let handle: FileHandle | null = null;
  let position = start;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        handle ??= await openFile(path, 'r');
        const want = Math.min(CHUNK_BYTES, end - position);
        const buffer = new Uint8Array(Math.max(want, 0));
        const { bytesRead } = want > 0 ? await handle.read(buffer, 0, want, position) : { bytesRead: 0 };
        if (bytesRead === 0) {
          await handle.close();
          controller.close();
          return;
        }
        position += bytesRead;
        controller.enqueue(buffer.subarray(0, bytesRead));
      } catch (error) {
        await handle?.close().catch(() => undefined);
        controller.error(error);
      }
    },
    async cancel() {
      await handle?.close().catch(() => undefined);
    },
  });
}
