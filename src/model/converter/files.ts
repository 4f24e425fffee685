/**
 * What the converter reads and writes, as two small interfaces so that the same code runs on a
 * directory in Node, on files the user dropped in a browser, and on a Map in tests:
 * - ExportSource (sources/export-source.ts): the diffusers/optimum export, read whole (small
 *   files) or by byte range (the multi-GB unet/model.onnx_data, never held whole);
 * - PackSink: where the pack goes, each file written once, whole or as a sequence of chunks.
 * Paths are relative, '/'-separated (`unet/model.onnx`).
 */
import { FormatError } from '../../util/errors.ts';
import type { ExportSource } from '../sources/export-source.ts';

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
