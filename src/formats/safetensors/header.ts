import { FormatError } from '../../util/errors.ts';
import { DTYPE_BYTES, SAFETENSORS_DTYPES, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.ts';
import { parseStrictJson, type StrictJson } from './strict-json.ts';

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;
/** The file starts with the header length as a little-endian u64. */
export const SAFETENSORS_PREFIX_BYTES = 8;

/** One tensor of the header table, with its bytes located in the whole file. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly elementCount: number;
  /** Absolute byte offset of the first element in the file (data section start + data_offsets[0]). */
  readonly start: number;
  /** Absolute byte offset one past the last element. */
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (padding included). */
  readonly headerLength: number;
  /** Absolute offset of the data section: 8 + headerLength. */
  readonly dataStart: number;
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Reads the 8-byte header length and checks it against the cap and the file length.
 * Streaming readers call this on the first 8 bytes to learn how many bytes the header needs.
 */
export function readSafetensorsPrefix(prefix: Uint8Array, fileLength: number, file: string): { headerLength: number; dataStart: number } {
  if (fileLength < SAFETENSORS_PREFIX_BYTES)
    throw new FormatError(file, 'header length', `the file has ${fileLength} bytes; a safetensors file starts with an 8-byte header length`);
  if (prefix.length < SAFETENSORS_PREFIX_BYTES)
    throw new RangeError(`${file}: readSafetensorsPrefix needs the first 8 bytes of the file, got ${prefix.length}`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES))
    throw new FormatError(file, 'header length', `${headerLength} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
  if (8n + headerLength > BigInt(fileLength))
    throw new FormatError(file, 'header length', `${headerLength} bytes does not fit in the file (${fileLength} bytes, 8 used by the length)`);
  return { headerLength: Number(headerLength), dataStart: 8 + Number(headerLength) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses and validates the header. `head` holds the file from byte 0 and at least through the
 * header (the whole file, or only its first `dataStart` bytes when streaming); `fileLength` is the
 * length of the whole file, against which every offset is checked.
 *
 * Checks: UTF-8 JSON object starting with "{" (trailing whitespace allowed, as writers pad with
 * spaces); no repeated keys; `__metadata__` maps strings to strings; each tensor has exactly
 * dtype (whitelisted), shape (non-negative integers) and data_offsets ([begin, end], integers);
 * product(shape) * element size equals end - begin; and the tensors, sorted by offset, cover the
 * data section exactly: no gap, no overlap, nothing left over.
 */
export function readSafetensorsHeader(head: Uint8Array, fileLength: number, file: string): SafetensorsHeader {
  const { headerLength, dataStart } = readSafetensorsPrefix(head, fileLength, file);
  if (head.length < dataStart)
    throw new RangeError(`${file}: readSafetensorsHeader needs the first ${dataStart} bytes of the file, got ${head.length}`);
  let text: string;
  try {
    text = utf8.decode(head.subarray(8, dataStart));
  } catch {
    throw new FormatError(file, 'header', 'is not valid UTF-8');
  }
  if (text[0] !== '{') throw new FormatError(file, 'header', `must be a JSON object starting with "{", starts with ${JSON.stringify(text.slice(0, 8))}`);
  const root = parseStrictJson(text, file, 'header') as Map<string, StrictJson>;

  const dataLength = fileLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of root) {
    if (name === '__metadata__') metadata = readMetadata(value, file);
    else tensors.set(name, readEntry(name, value, dataStart, dataLength, file));
  }
  checkDense([...tensors.values()], dataStart, dataLength, file);
  return { headerLength, dataStart, tensors, metadata };
}

function readMetadata(value: StrictJson, file: string): Record<string, string> {
  if (!(value instanceof Map)) throw new FormatError(file, '__metadata__', `expected an object of strings, got ${describe(value)}`);
  const entries: [string, string][] = [];
  for (const [key, item] of value) {
    if (typeof item !== 'string')
      throw new FormatError(file, `__metadata__.${JSON.stringify(key)}`, `metadata values must be strings, got ${describe(item)}`);
    entries.push([key, item]);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays a key.
  return Object.fromEntries(entries);
}

const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

function readEntry(name: string, value: StrictJson, dataStart: number, dataLength: number, file: string): SafetensorsEntry {
  const field = (part: string) => `${JSON.stringify(name)}${part}`;
  if (!(value instanceof Map)) throw new FormatError(file, field(''), `expected a tensor entry object, got ${describe(value)}`);
  for (const key of value.keys())
    if (!ENTRY_FIELDS.includes(key)) throw new FormatError(file, field(`.${key}`), `unknown field; a tensor entry has only ${ENTRY_FIELDS.join(', ')}`);
  for (const key of ENTRY_FIELDS) if (!value.has(key)) throw new FormatError(file, field(`.${key}`), 'missing');

  const dtype = value.get('dtype');
  if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype))
    throw new FormatError(file, field('.dtype'), `unsupported dtype ${describe(dtype ?? null)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`);

  const shape = value.get('shape');
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw new FormatError(file, field('.shape'), `expected an array of non-negative integers, got ${describe(shape ?? null)}`);

  const offsets = value.get('data_offsets');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    throw new FormatError(file, field('.data_offsets'), `expected [begin, end] as non-negative integers, got ${describe(offsets ?? null)}`);
  const [begin, end] = offsets as number[];
  if (begin > end) throw new FormatError(file, field('.data_offsets'), `begin ${begin} is after end ${end}`);
  if (end > dataLength)
    throw new FormatError(file, field('.data_offsets'), `end ${end} lies beyond the data section (${dataLength} bytes)`);

  const elementCount = checkedElementCount(shape as number[], DTYPE_BYTES[dtype]);
  if (elementCount === null || elementCount * DTYPE_BYTES[dtype] !== end - begin) {
    const needs = elementCount === null ? 'more than 2^53' : elementCount * DTYPE_BYTES[dtype];
    throw new FormatError(file, field(''), `shape [${shape.join(', ')}] of ${dtype} needs ${needs} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  // `+ 0` turns a JSON -0 into 0.
  return { name, dtype, shape: (shape as number[]).map((dim) => dim + 0), elementCount, start: dataStart + begin, end: dataStart + end };
}

/** product(shape), or null when its byte size would not be an exact integer (absurd shapes). */
function checkedElementCount(shape: readonly number[], elementBytes: number): number | null {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count * elementBytes > Number.MAX_SAFE_INTEGER) return null;
  }
  return count;
}

function checkDense(entries: SafetensorsEntry[], dataStart: number, dataLength: number, file: string): void {
  const sorted = entries.slice().sort((a, b) => a.start - b.start || a.end - b.end);
  let cursor = dataStart;
  let previous: SafetensorsEntry | null = null;
  for (const entry of sorted) {
    if (entry.start !== cursor) {
      const relation = entry.start < cursor ? `overlaps ${JSON.stringify(previous?.name)}` : `leaves a gap of ${entry.start - cursor} bytes after ${previous ? JSON.stringify(previous.name) : 'the header'}`;
      throw new FormatError(file, `${JSON.stringify(entry.name)}.data_offsets`, `${relation}; tensors must cover the data section densely`);
    }
    cursor = entry.end;
    previous = entry;
  }
  if (cursor !== dataStart + dataLength)
    throw new FormatError(file, 'data section', `${dataStart + dataLength - cursor} trailing bytes belong to no tensor (tensors cover ${cursor - dataStart} of ${dataLength})`);
}

function isCount(value: StrictJson): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: StrictJson): string {
  if (value instanceof Map) return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
