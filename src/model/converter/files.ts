/**
 * What the converter reads and writes, as two small interfaces so that the same code runs on a
 * directory in Node, on files the user dropped in a browser, and on a Map in tests:
 * - ExportSource: the diffusers/optimum export, read whole (small files) or by byte range (the
 *   multi-GB unet/model.onnx_data, never held whole);
 * - PackSink: where the pack goes, each file written once, whole or as a sequence of chunks.
 * Paths are relative, '/'-separated (`unet/model.onnx`).
 */
import { FormatError } from '../../util/errors.ts';

export interface ExportSource {
  /** The whole file. Throws (any error) when it does not exist. */
  read(path: string): Promise<Uint8Array>;
  /** Size in bytes, or undefined when the file does not exist. */
  size(path: string): Promise<number | undefined>;
  /** `length` bytes from `offset`; without it the converter reads the whole file once. */
  readRange?(path: string, offset: number, length: number): Promise<Uint8Array>;
}

/** Chunks are consumed in order; an async iterable lets a writer stream data it reads lazily. */
export type FileContent = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface PackSink {
  write(path: string, content: FileContent): Promise<void>;
}

/** The file, or a FormatError naming it when the export lacks it. */
export async function readRequired(source: ExportSource, path: string, why: string): Promise<Uint8Array> {
  if ((await source.size(path)) === undefined) throw new FormatError(path, '(file)', `missing from the export (needed ${why})`);
  return source.read(path);
}

export async function* contentChunks(content: FileContent): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield content;
    return;
  }
  if (Symbol.asyncIterator in content) for await (const chunk of content) yield chunk;
  else for (const chunk of content) yield chunk;
}

/** An export held in memory (tests, forgeInMemory output, a browser's dropped files read up front). */
export function memorySource(files: ReadonlyMap<string, Uint8Array>): ExportSource {
  const get = (path: string): Uint8Array => {
    const bytes = files.get(path);
    if (bytes === undefined) throw new FormatError(path, '(file)', 'no such file in the export');
    return bytes;
  };
  return {
    read: async (path) => get(path),
    size: async (path) => files.get(path)?.byteLength,
    readRange: async (path, offset, length) => get(path).subarray(offset, offset + length),
  };
}

/** A sink collecting the pack into a Map (each file concatenated from its chunks). */
export class MemorySink implements PackSink {
  readonly files = new Map<string, Uint8Array>();

  async write(path: string, content: FileContent): Promise<void> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of contentChunks(content)) {
      chunks.push(chunk);
      size += chunk.byteLength;
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.files.set(path, out);
  }
}
