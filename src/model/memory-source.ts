import { FileNotFoundError } from './sources/errors.ts';
import { noSuchExportFile, type ExportSource } from './sources/export-source.ts';
import type { OpenedFile, OpenOptions, PackSource } from './sources/pack-source.ts';
import { assertPackPath } from './pack-path.ts';

/** Chunk size of the streams, so a load reports progress within a file as it does for real sources. */
const CHUNK_BYTES = 256 * 1024;

export interface MemoryPackSourceOptions {
  /** Identity of the pack location (keys the cached manifest); default "memory:<name>". */
  id?: string;
  /** Shown in messages and summaries; default "memory <name>". */
  name?: string;
}

/**
 * Files held in memory as path -> bytes, read two ways:
 * - as a PackSource (`open`, `list`): the built-in demo pack (forged and converted in the worker),
 *   a pack built from a diffusers repo, and tests. Behaves like the other sources: paths are
 *   checked, a missing file rejects with FileNotFoundError, `offset` resumes. Every chunk handed
 *   out is a copy, so a consumer that writes into a chunk cannot change the pack (the loader
 *   hands these bytes on).
 * - as an ExportSource (`read`, `size`, `readRange`): a forged export for the converter. Reads are
 *   views into the held bytes, never copies (the converter only reads them), with no size limit;
 *   a missing file is a FormatError ("no such file in the export").
 * Every path is checked as a pack path when the source is made.
 */
export class MemoryPackSource implements PackSource, ExportSource {
  readonly id: string;
  readonly description: string;
  private readonly files: ReadonlyMap<string, Uint8Array>;

  constructor(files: ReadonlyMap<string, Uint8Array> | Iterable<readonly [string, Uint8Array]>, options: MemoryPackSourceOptions = {}) {
    const copy = new Map<string, Uint8Array>();
    for (const [path, data] of files) {
      assertPackPath(path);
      copy.set(path, data);
    }
    this.files = copy;
    const name = options.name ?? 'pack';
    this.id = options.id ?? `memory:${name}`;
    this.description = `memory ${name}`;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    assertPackPath(path);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
    options.signal?.throwIfAborted();
    const data = this.files.get(path);
    const location = `${this.description}/${path}`;
    if (!data) throw new FileNotFoundError(path, location);
    return { size: data.length, stream: chunkedStream(data, Math.min(offset, data.length)), location };
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  async read(path: string): Promise<Uint8Array> {
    return this.held(path);
  }

  async size(path: string): Promise<number | undefined> {
    return this.files.get(path)?.byteLength;
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.held(path).subarray(offset, offset + length);
  }

  private held(path: string): Uint8Array {
    const data = this.files.get(path);
    if (data === undefined) throw noSuchExportFile(path);
    return data;
  }
}

function chunkedStream(data: Uint8Array, start: number): ReadableStream<Uint8Array> {
  let position = start;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (position >= data.length) {
        controller.close();
        return;
      }
      const end = Math.min(position + CHUNK_BYTES, data.length);
      controller.enqueue(data.slice(position, end));
      position = end;
    },
  });
}
