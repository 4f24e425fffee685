/**
 * Seeded random mutations of encoded ONNX bytes: truncation, bit flips, byte edits, and lying
 * length prefixes. Every case must end in a validated model (which then re-encodes) or in a
 * FormatError naming the file; never another exception type, never a hang.
 */
import protobuf from 'protobufjs/light.js';
import { describe, expect, test } from 'vitest';
import { decodeModel, encodeModel } from '../../src/formats/onnx/codec.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { everyFieldModel, smallModel } from './onnx-fixtures.ts';

interface LengthPrefix {
  at: number; // where the varint length starts
  size: number; // its encoded size in bytes
  value: number;
}

/**
 * Length prefixes of length-delimited fields, found by walking the bytes as nested messages
 * (payloads that do not parse as a message, like strings and raw_data, are not descended into).
 */
function lengthPrefixes(bytes: Uint8Array, start = 0, end = bytes.length, found: LengthPrefix[] = []): LengthPrefix[] {
  const reader = protobuf.Reader.create(bytes);
  reader.pos = start;
  const local: LengthPrefix[] = [];
  const nested: [number, number][] = [];
  try {
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (tag >>> 3 === 0) return found;
      const wireType = tag & 7;
      if (wireType === 2) {
        const at = reader.pos;
        const value = reader.uint32();
        const payload = reader.pos;
        if (payload + value > end) return found;
        local.push({ at, size: payload - at, value });
        nested.push([payload, payload + value]);
        reader.pos = payload + value;
      } else reader.skipType(wireType);
    }
  } catch {
    return found;
  }
  if (reader.pos !== end) return found;
  found.push(...local);
  for (const [s, e] of nested) if (e > s) lengthPrefixes(bytes, s, e, found);
  return found;
}

function varint(value: number): Uint8Array {
  return protobuf.Writer.create().uint32(value).finish();
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

function mutate(bytes: Uint8Array, prefixes: LengthPrefix[], rng: SeededRandom): { bytes: Uint8Array; kind: string } {
  const int = (n: number) => Math.floor(rng.uniform() * n);
  const kind = ['truncate', 'flip', 'byte', 'insert', 'delete', 'length', 'length'][int(7)];
  let out: Uint8Array = bytes.slice();
  switch (kind) {
    case 'truncate':
      out = out.subarray(0, int(out.length));
      break;
    case 'flip':
      for (let i = 1 + int(8); i > 0; i--) out[int(out.length)] ^= 1 << int(8);
      break;
    case 'byte':
      out[int(out.length)] = [0x00, 0x7f, 0x80, 0xff, int(256)][int(5)];
      break;
    case 'insert':
      out = splice(out, int(out.length + 1), 0, Uint8Array.from({ length: 1 + int(4) }, () => int(256)));
      break;
    case 'delete':
      out = splice(out, int(out.length), 1 + int(4), new Uint8Array(0));
      break;
    case 'length': {
      const p = prefixes[int(prefixes.length)];
      const lies = [0, p.value + 1, Math.max(0, p.value - 1), p.value * 2 + 7, 0x7fffffff, 0xffffffff, int(out.length)];
      out = splice(out, p.at, p.size, varint(lies[int(lies.length)]));
      break;
    }
  }
  return { bytes: out, kind };
}

describe('decodeModel under random mutation', () => {
  test.each([
    ['small model', () => smallModel().model, 1],
    ['every-field model', everyFieldModel, 2],
  ])('%s: 1500 mutated files end in a model or a FormatError', (_, build, seed) => {
    const bytes = encodeModel(build());
    const prefixes = lengthPrefixes(bytes);
    expect(prefixes.length).toBeGreaterThan(20);
    const rng = new SeededRandom(seed);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 1500; i++) {
      const { bytes: mutated, kind } = mutate(bytes, prefixes, rng);
      let outcome: string;
      try {
        const model = decodeModel(mutated, 'mut.onnx');
        // A model that passed validation must encode again.
        encodeModel(model, 'mut.onnx');
        outcome = 'model';
      } catch (error) {
        if (!(error instanceof FormatError) || error.file !== 'mut.onnx')
          throw new Error(`case ${i} (${kind}) threw ${String(error)}`, { cause: error });
        outcome = error.field === 'protobuf' ? 'protobuf error' : 'validation error';
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    // The mutations reach all three outcomes: the test exercises both layers of checks.
    expect(Object.keys(outcomes).sort()).toEqual(['model', 'protobuf error', 'validation error']);
  });
});
