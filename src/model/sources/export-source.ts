/**
 * The random-access read of a model export (an optimum / diffusers ONNX export, a diffusers repo)
 * that the converter and the diffusers path take. It stands beside PackSource rather than on
 * top of it because its reads are byte ranges: a UNet's external data (`unet/model.onnx_data`,
 * a safetensors file) is several GB, read tensor by tensor and never held whole, and a
 * single-file text encoder (about 492 MB in fp32) is past the 256 MB that `readBytes` allows a
 * whole PackSource read. Sources whose store gives random access implement it directly next to
 * PackSource, one class per store: MemoryPackSource (views into the held bytes, no copies) and
 * NodeFolderSource (a file handle per range). Stream-only sources (hub, browser folders) are
 * read through `packSourceReader` (diffusers/pack-source-reader.ts); VirtualExport
 * (diffusers/virtual-export.ts) assembles one on demand.
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

/** What an in-memory export's `read` and `readRange` throw for a path it does not hold. */
export function noSuchExportFile(path: string): FormatError {
  return new FormatError(path, '(file)', 'no such file in the export');
}

/**
 * The segments of a plain relative path (no '', '.' or '..' segment, no backslash), or a
 * FormatError: how a Node folder export is read and a Node pack folder written, looser than a
 * pack path (pack-path.ts) since an export's file names are not ours to choose.
 */
export function plainPathSegments(path: string): string[] {
  const segments = path.split('/');
  if (segments.some((part) => part === '' || part === '.' || part === '..') || path.includes('\\'))
    throw new FormatError(path, '(path)', 'not a plain relative path');
  return segments;
}
