/**
 * Seeded mutations of safetensors files: truncation at every byte, random byte edits aimed at
 * each region, lying header lengths, and header rewrites that lie about offsets, shapes and
 * dtypes, repeat keys or put non-strings in the metadata. Every case must end in a valid file
 * (whose tensors then satisfy every invariant and re-serialize to the same table) or in a
 * FormatError naming the file; never another exception, never a copy of claimed sizes.
 */
import { describe, expect, test } from 'vitest';
import { DTYPE_BYTES, type SafetensorsDtype } from '../../src/formats/safetensors/dtypes.ts';
import { readSafetensors, type SafetensorsFile } from '../../src/formats/safetensors/reader.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../src/formats/safetensors/writer.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { mutateBytes, pick, randomInt, truncate, truncationLengths, type ByteRegion } from '../support/mutate.ts';

const FILE = 'mut.safetensors';

function baseFile(): Uint8Array {
  const rng = new SeededRandom(5);
  const tensors: [string, SafetensorsWriteTensor][] = [
    ['unet.w', { dtype: 'F32', shape: [3, 2], data: rng.normalArray(6) }],
    ['half', { dtype: 'F16', shape: [5], data: rng.normalArray(5) }],
    ['brain', { dtype: 'BF16', shape: [2, 1, 2], data: rng.normalArray(4) }],
    ['ids', { dtype: 'I64', shape: [2], data: BigInt64Array.of(7n, -1n) }],
    ['i32', { dtype: 'I32', shape: [1, 3], data: Int32Array.of(1, -2, 3) }],
    ['bytes', { dtype: 'U8', shape: [7], data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.of(2.5) }],
    ['empty', { dtype: 'F16', shape: [0, 4], data: new Float32Array(0) }],
  ];
  return writeSafetensors(tensors, { format: 'pt', lethe_seed: '42' });
}

function headerLengthOf(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

function regionsOf(bytes: Uint8Array): ByteRegion[] {
  const file = readSafetensors(bytes, FILE);
  const jsonEnd = 8 + new TextDecoder().decode(bytes.subarray(8, file.dataStart)).trimEnd().length;
  const regions: ByteRegion[] = [
    { name: 'length', start: 0, end: 8 },
    { name: 'header', start: 8, end: jsonEnd },
    { name: 'padding', start: jsonEnd, end: file.dataStart },
  ];
  for (const [name, t] of file.tensors) if (t.end > t.start) regions.push({ name: `data of ${name}`, start: t.start, end: t.end });
  return regions;
}

type Outcome = 'valid' | 'error';

/** Parses; checks a valid result's invariants or the error's type and file. */
function check(bytes: Uint8Array, kind: string): Outcome {
  let file: SafetensorsFile;
  try {
    file = readSafetensors(bytes, FILE);
  } catch (error) {
    if (!(error instanceof FormatError)) throw new Error(`${kind}: threw ${String(error)} instead of a FormatError`);
    expect(error.file, kind).toBe(FILE);
    expect(error.field.length, kind).toBeGreaterThan(0);
    return 'error';
  }
  const ranges = [...file.tensors.values()].map((t) => [t.start, t.end]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = file.dataStart;
  for (const [start, end] of ranges) {
    expect(start, kind).toBe(cursor);
    cursor = end;
  }
  expect(cursor, kind).toBe(bytes.length);
  const rewritten: [string, SafetensorsWriteTensor][] = [];
  for (const [name, t] of file.tensors) {
    expect(t.data.buffer, kind).toBe(bytes.buffer); // views only: nothing sized by the file's claims is allocated
    expect(t.data.length, kind).toBe(t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]);
    rewritten.push([name, { dtype: t.dtype, shape: t.shape, data: typedCopy(t.dtype, t.data) }]);
  }
  const again = readSafetensors(writeSafetensors(rewritten, file.metadata), FILE);
  expect([...again.tensors.keys()], kind).toEqual([...file.tensors.keys()]);
  expect(again.metadata, kind).toEqual(file.metadata);
  for (const [name, t] of again.tensors) expect(t.data, kind).toEqual(file.tensors.get(name)!.data);
  return 'valid';
}

function typedCopy(dtype: SafetensorsDtype, data: Uint8Array): SafetensorsWriteTensor['data'] {
  const buffer = data.slice().buffer;
  if (dtype === 'F32') return new Float32Array(buffer);
  if (dtype === 'F16' || dtype === 'BF16') return new Uint16Array(buffer);
  if (dtype === 'I32') return new Int32Array(buffer);
  if (dtype === 'I64') return new BigInt64Array(buffer);
  return new Uint8Array(buffer);
}

function tally(outcomes: Outcome[]): Record<Outcome, number> {
  return { valid: outcomes.filter((o) => o === 'valid').length, error: outcomes.filter((o) => o === 'error').length };
}

describe('safetensors reader under seeded mutation', () => {
  const base = baseFile();
  const regions = regionsOf(base);
  const headerLength = headerLengthOf(base);

  test('the base file is valid', () => {
    expect(check(base, 'base')).toBe('valid');
  });

  test('every truncation is a FormatError', () => {
    const lengths = truncationLengths([{ name: 'file', start: 0, end: base.length }]);
    expect(lengths.length).toBe(base.length);
    for (const length of lengths) expect(check(truncate(base, length), `truncate to ${length}`)).toBe('error');
  });

  test('3000 random byte mutations aimed at each region', () => {
    const rng = new SeededRandom(1234);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 3000; i++) {
      const { kind, bytes } = mutateBytes(base, rng, regions);
      outcomes.push(check(bytes, `case ${i}: ${kind}`));
    }
    const { valid, error } = tally(outcomes);
    // Flips inside tensor data leave a valid file; most header edits do not.
    expect(valid).toBeGreaterThan(300);
    expect(error).toBeGreaterThan(1500);
  });

  test('lying header lengths', () => {
    const lies = [0n, 1n, 2n, 7n, 8n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 100_000_000n, 100_000_001n, BigInt(base.length), BigInt(base.length - 8)];
    for (let d = -16; d <= 16; d++) if (d !== 0) lies.push(BigInt(headerLength + d));
    for (const lie of lies) {
      const bytes = base.slice();
      new DataView(bytes.buffer).setBigUint64(0, lie, true);
      expect(check(bytes, `header length ${lie}`)).toBe('error');
    }
  });

  test('3000 header rewrites that lie about offsets, shapes, dtypes, keys and metadata', () => {
    const rng = new SeededRandom(99);
    const original = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + headerLength))) as Record<string, unknown>;
    const data = base.subarray(8 + headerLength);
    const names = Object.keys(original).filter((k) => k !== '__metadata__');
    const weird: unknown[] = [-1, 1.5, 2 ** 53, 2 ** 64, 1e300, '4', null, true, [], {}, 0, 3, 2 ** 31, 4294967296];
    const outcomes: Outcome[] = [];
    const kinds = new Map<string, Outcome[]>();

    for (let i = 0; i < 3000; i++) {
      const header = structuredClone(original) as Record<string, Record<string, unknown>>;
      const name = pick(rng, names);
      const entry = header[name] as { dtype: unknown; shape: unknown[]; data_offsets: unknown[] };
      let text: string | null = null;
      const kind = pick(rng, ['offset nudge', 'offset weird', 'shape nudge', 'shape weird', 'shape huge', 'rank change', 'dtype', 'swap offsets', 'duplicate key', 'metadata value', 'metadata itself', 'drop field', 'extra field', 'data length']);
      let dataCut = 0;
      switch (kind) {
        case 'offset nudge':
          entry.data_offsets[randomInt(rng, 0, 2)] = (entry.data_offsets[randomInt(rng, 0, 2)] as number) + randomInt(rng, -8, 9);
          break;
        case 'offset weird':
          entry.data_offsets[randomInt(rng, 0, 2)] = pick(rng, [-1, 1.5, 2 ** 53, 2 ** 64, 1e300, '4', null, true, [], {}, 2 ** 31]); // no small integers: those may be true
          break;
        case 'shape nudge':
          if (entry.shape.length > 0) entry.shape[randomInt(rng, 0, entry.shape.length)] = (entry.shape[0] as number) + randomInt(rng, -2, 3);
          else entry.shape.push(randomInt(rng, 0, 3));
          break;
        case 'shape weird':
          entry.shape = [...entry.shape, pick(rng, weird)];
          break;
        case 'shape huge':
          entry.shape = Array.from({ length: randomInt(rng, 1, 6) }, () => pick(rng, [2 ** 20, 2 ** 31, 2 ** 40, 2 ** 52, 65536, 0]));
          break;
        case 'rank change':
          entry.shape = rng.uniform() < 0.5 ? [entry.shape.reduce((a, b) => (a as number) * (b as number), 1)] : [...entry.shape, 1];
          break;
        case 'dtype':
          entry.dtype = pick(rng, ['F64', 'I8', 'BOOL', 'f32', '', 'U16', 'F8_E5M2', 'F32', 'F16', 'BF16', 'I32', 'I64', 'U8', 7]);
          break;
        case 'swap offsets': {
          const other = header[pick(rng, names)] as { data_offsets: unknown[] };
          [entry.data_offsets, other.data_offsets] = [other.data_offsets, entry.data_offsets];
          break;
        }
        case 'duplicate key': {
          const json = JSON.stringify(header);
          const copy = `${JSON.stringify(name)}:${JSON.stringify(entry)}`;
          text = rng.uniform() < 0.5 ? json.replace('{', `{${copy},`) : `${json.slice(0, -1)},${copy}}`;
          break;
        }
        case 'metadata value':
          (header.__metadata__ as Record<string, unknown>)[pick(rng, ['format', 'new'])] = pick(rng, [...weird, 'fine']);
          break;
        case 'metadata itself':
          (header as Record<string, unknown>).__metadata__ = pick(rng, [null, [], 'x', 3, { a: { b: 'c' } }, {}]);
          break;
        case 'drop field':
          delete (entry as Record<string, unknown>)[pick(rng, ['dtype', 'shape', 'data_offsets'])];
          break;
        case 'extra field':
          (entry as Record<string, unknown>)[pick(rng, ['offset', 'dtype2', '__metadata__'])] = 1;
          break;
        case 'data length':
          dataCut = randomInt(rng, -4, 5);
          break;
      }
      text ??= JSON.stringify(header);
      const json = new TextEncoder().encode(text.padEnd(Math.ceil(text.length / 8) * 8 + randomInt(rng, 0, 2) * 8, ' '));
      const body = dataCut >= 0 ? data.subarray(0, data.length - dataCut) : new Uint8Array([...data, ...new Uint8Array(-dataCut)]);
      const bytes = new Uint8Array(8 + json.length + body.length);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
      bytes.set(json, 8);
      bytes.set(body, 8 + json.length);
      const outcome = check(bytes, `case ${i}: ${kind} on ${name}`);
      outcomes.push(outcome);
      kinds.set(kind, [...(kinds.get(kind) ?? []), outcome]);
    }
    const { valid, error } = tally(outcomes);
    expect(valid).toBeGreaterThan(50);
    expect(error).toBeGreaterThan(2000);
    // Lies that can never describe a valid file must never pass.
    // ('shape huge' may pass: a huge shape with a zero dimension is a valid empty tensor.)
    for (const kind of ['duplicate key', 'offset weird', 'drop field', 'extra field'])
      expect(tally(kinds.get(kind) ?? []).valid, kind).toBe(0);
  });
});
