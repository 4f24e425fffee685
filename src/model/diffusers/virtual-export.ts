/**
 * An ONNX export that exists only as a view: the converter reads it through the ExportSource
 * interface like any export on disk, but the large external data files are assembled on demand,
 * each tensor read by byte range from the diffusers safetensors and converted when a read
 * touches it. So the pack's UNet pieces are written from the checkpoint directly, without a
 * model.onnx_data ever existing, and no tensor is held longer than the read that needs it.
 */
import { FormatError } from '../../util/errors.ts';
import { noSuchExportFile, type ExportSource } from '../sources/export-source.ts';

/** One slice of a lazily assembled file. */
export interface LazyPart {
  offset: number;
  length: number;
  produce(): Promise<Uint8Array>;
}

export interface LazyFile {
  size: number;
  /** Sorted by offset, adjacent or with zero-filled gaps. */
  parts: LazyPart[];
}

export class VirtualExport implements ExportSource {
  /** The last part produced, since consecutive reads (chunked copies) often fall in one tensor. */
  private cached: { path: string; part: LazyPart; bytes: Uint8Array } | null = null;

  constructor(
    private readonly whole: ReadonlyMap<string, Uint8Array>,
    private readonly lazy: ReadonlyMap<string, LazyFile>,
  ) {}

  async size(path: string): Promise<number | undefined> {
    return this.whole.get(path)?.byteLength ?? this.lazy.get(path)?.size;
  }

  async read(path: string): Promise<Uint8Array> {
    const bytes = this.whole.get(path);
    if (bytes) return bytes;
    const file = this.lazy.get(path);
    if (!file) throw noSuchExportFile(path);
    return this.readRange(path, 0, file.size);
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const bytes = this.whole.get(path);
    if (bytes) return bytes.subarray(offset, offset + length);
    const file = this.lazy.get(path);
    if (!file) throw noSuchExportFile(path);
    const end = Math.min(offset + length, file.size);
    const out = new Uint8Array(Math.max(end - offset, 0));
    let index = firstPartEndingAfter(file.parts, offset);
    for (; index < file.parts.length && file.parts[index].offset < end; index++) {
      const part = file.parts[index];
      const data = await this.produce(path, part);
      const from = Math.max(offset, part.offset);
      const to = Math.min(end, part.offset + part.length);
      out.set(data.subarray(from - part.offset, to - part.offset), from - offset);
    }
    return out;
  }

  private async produce(path: string, part: LazyPart): Promise<Uint8Array> {
    if (this.cached && this.cached.path === path && this.cached.part === part) return this.cached.bytes;
    const bytes = await part.produce();
    if (bytes.byteLength !== part.length) throw new FormatError(path, `bytes ${part.offset}..${part.offset + part.length}`, `produced ${bytes.byteLength} bytes, expected ${part.length}`);
    this.cached = { path, part, bytes };
    return bytes;
  }
}

function firstPartEndingAfter(parts: readonly LazyPart[], offset: number): number {
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (parts[mid].offset + parts[mid].length <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
