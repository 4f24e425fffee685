import { readSafetensorsHeader, type SafetensorsEntry } from './header.ts';

/** A tensor of a file held in memory; `data` is a view into the file's bytes (no copy). */
export interface SafetensorsTensor extends SafetensorsEntry {
  readonly data: Uint8Array;
}

export interface SafetensorsFile {
  readonly headerLength: number;
  readonly dataStart: number;
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Reads a whole safetensors file held in memory. Every check of readSafetensorsHeader applies,
 * with the file length taken from `bytes`; a file that breaks any of them is a FormatError
 * naming `file`. Tensor data are views into `bytes`: nothing is allocated in proportion to
 * sizes the file claims.
 */
export function readSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const header = readSafetensorsHeader(bytes, bytes.length, file);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of header.tensors) tensors.set(name, { ...entry, data: bytes.subarray(entry.start, entry.end) });
  return { headerLength: header.headerLength, dataStart: header.dataStart, tensors, metadata: header.metadata };
}
