/**
 * A PackSource (hub repo, browser folder) read as the converter's ExportSource: whole small files,
 * sizes, and byte ranges (a read from `offset`, stopped after `length` bytes; on the hub a
 * `Range: bytes=<offset>-` request per tensor).
 */
import { FileNotFoundError } from '../sources/errors.ts';
import type { PackSource } from '../sources/pack-source.ts';
import { readBytes } from '../sources/read.ts';
import type { ExportSource } from '../sources/export-source.ts';

export function packSourceReader(source: PackSource, signal?: AbortSignal): ExportSource {
  const sizes = new Map<string, Promise<number | undefined>>();
  return {
    read: (path) => readBytes(source, path, { signal }),
    size: (path) => {
      let size = sizes.get(path);
      if (size === undefined) {
        size = (async () => {
          try {
            const opened = await source.open(path, { signal });
            await opened.stream.cancel();
            return opened.size ?? (await readBytes(source, path, { signal })).byteLength;
          } catch (error) {
            if (error instanceof FileNotFoundError) return undefined;
            throw error;
          }
        })();
        sizes.set(path, size);
      }
      return size;
    },
    readRange: async (path, offset, length) => {
      const out = new Uint8Array(length);
      if (length === 0) return out;
      const reader = (await source.open(path, { offset, signal })).stream.getReader();
      let filled = 0;
      try {
        while (filled < length) {
          const { done, value } = await reader.read();
          if (done) break;
          const take = Math.min(value.byteLength, length - filled);
          out.set(value.subarray(0, take), filled);
          filled += take;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      return filled === length ? out : out.subarray(0, filled);
    },
  };
}
