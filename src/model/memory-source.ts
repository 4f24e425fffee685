import { FileNotFoundError } from './sources/errors.ts';
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
 * A pack held in memory as pack path -> bytes: the built-in demo pack (forged and converted in the
 * worker) and tests. Behaves like the other sources: paths are checked, a missing file rejects
 * with FileNotFoundError, `offset` resumes. Every chunk handed out is a copy, so a consumer that
 * writes into a chunk cannot change the pack.
 */
export class MemoryPackSource implements PackSource {
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
