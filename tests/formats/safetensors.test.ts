import { describe, expect, test } from 'vitest';
import { DTYPE_BYTES, type SafetensorsDtype } from '../../src/formats/safetensors/dtypes.ts';
import { MAX_HEADER_BYTES, readSafetensorsHeader, readSafetensorsPrefix } from '../../src/formats/safetensors/header.ts';
import { readSafetensors } from '../../src/formats/safetensors/reader.ts';
import { tensorToBigInt64, tensorToFloat32, tensorToInt32 } from '../../src/formats/safetensors/elements.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../src/formats/safetensors/writer.ts';
import { float32ToBfloat16Bits } from '../../src/formats/safetensors/bfloat16.ts';
import { parseStrictJson } from '../../src/formats/safetensors/strict-json.ts';
import { FormatError, InputError, ShapeError } from '../../src/util/errors.ts';
import { fromHalf, toHalf } from '../../src/util/half.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { mutateBytes } from '../support/mutate.ts';

const FILE = 'bad.safetensors';

/** A file from raw header text, data bytes and (optionally) a lying header length. */
function rawFile(header: string, data: Uint8Array | number = 0, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function expectFormatError(run: () => unknown, field: RegExp | string, detail?: RegExp): FormatError {
  try {
    run();
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    expect(error.file).toBe(FILE);
    expect(error.field).toMatch(field);
    if (detail) expect(error.detail).toMatch(detail);
    return error;
  }
  throw new Error('expected a FormatError');
}

const read = (bytes: Uint8Array) => readSafetensors(bytes, FILE);
const entry = (dtype: string, shape: unknown[], offsets: unknown[]) => JSON.stringify({ dtype, shape, data_offsets: offsets });

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

function randomTensor(dtype: SafetensorsDtype, shape: number[], rng: SeededRandom): SafetensorsWriteTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u32 = () => rng.nextUint32();
  switch (dtype) {
    case 'F32': {
      const data = rng.normalArray(n);
      const specials = [0, -0, Infinity, -Infinity, NaN, 3.4e38, 1e-45];
      for (let i = 0; i < Math.min(n, specials.length); i++) data[i] = specials[i];
      return { dtype, shape, data };
    }
    case 'F16':
    case 'BF16':
      return { dtype, shape, data: Uint16Array.from({ length: n }, () => u32() & 0xffff) };
    case 'I32':
      return { dtype, shape, data: Int32Array.from({ length: n }, (_, i) => (i === 0 ? -(2 ** 31) : u32() | 0)) };
    case 'I64':
      return {
        dtype,
        shape,
        data: BigInt64Array.from({ length: n }, (_, i) => (i === 0 ? -(2n ** 63n) : i === 1 ? 2n ** 63n - 1n : BigInt.asIntN(64, (BigInt(u32()) << 32n) | BigInt(u32())))),
      };
    case 'U8':
      return { dtype, shape, data: Uint8Array.from({ length: n }, () => u32() & 0xff) };
  }
}

describe('safetensors writer and reader', () => {
  const shapes: number[][] = [[], [0], [1], [7], [3, 5], [2, 3, 5], [3, 0, 2], [1, 1, 1, 13]];
  const dtypes: SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'I32', 'I64', 'U8'];

  test.each(dtypes)('%s round trips for scalars, zero-size and odd shapes', (dtype) => {
    const rng = new SeededRandom(dtypes.indexOf(dtype) + 1);
    // Mixing in a U8 and an F16 tensor puts odd byte counts before and after this dtype.
    const input = new Map<string, SafetensorsWriteTensor>([['odd bytes', randomTensor('U8', [3], rng)]]);
    shapes.forEach((shape, i) => input.set(`t${i}.${dtype}`, randomTensor(dtype, shape, rng)));
    input.set('half', randomTensor('F16', [5], rng));
    const bytes = writeSafetensors(input, { note: 'round trip', 'ünïcode ✓': 'välue' });
    const file = read(bytes);

    expect([...file.tensors.keys()]).toEqual([...input.keys()]);
    expect(file.metadata).toEqual({ note: 'round trip', 'ünïcode ✓': 'välue' });
    expect(file.dataStart % 8).toBe(0);
    for (const [name, want] of input) {
      const got = file.tensors.get(name)!;
      expect(got.dtype).toBe(want.dtype);
      expect(got.shape).toEqual(want.shape);
      expect(got.elementCount).toBe(want.data.length);
      expect(got.start % DTYPE_BYTES[got.dtype]).toBe(0); // aligned to its element size
      expect(got.data.buffer).toBe(bytes.buffer); // a view, not a copy
      expect(got.data).toEqual(new Uint8Array(want.data.buffer, want.data.byteOffset, want.data.byteLength));
      if (got.dtype === 'F32') expect(sameBits(tensorToFloat32(got, FILE), want.data as Float32Array)).toBe(true);
      if (got.dtype === 'F16') expect(sameBits(tensorToFloat32(got, FILE), fromHalf(want.data as Uint16Array))).toBe(true);
      if (got.dtype === 'I32') expect(tensorToInt32(got, FILE)).toEqual(want.data);
      if (got.dtype === 'I64') expect(tensorToBigInt64(got, FILE)).toEqual(want.data);
    }
  });

  test('BF16 values decode as the upper half of float32', () => {
    const bits = Uint16Array.of(0x3f80, 0xc049, 0x7f80, 0x0001, 0x8000);
    const got = tensorToFloat32(read(writeSafetensors([['b', { dtype: 'BF16', shape: [5], data: bits }]])).tensors.get('b')!, FILE);
    expect(Array.from(got)).toEqual([1, -3.140625, Infinity, 2 ** -133, -0]);
  });

  test('a file with no tensors and no metadata is "{}" padded to 8 bytes', () => {
    const bytes = writeSafetensors([]);
    expect(Array.from(bytes)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode('{}      ')]);
    const file = read(bytes);
    expect(file.tensors.size).toBe(0);
    expect(file.metadata).toEqual({});
  });

  test('a small file matches hand-computed bytes', () => {
    const bytes = writeSafetensors(
      [
        ['a', { dtype: 'F16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) }],
        ['b', { dtype: 'F32', shape: [], data: Float32Array.of(1.5) }],
      ],
      { k: 'v' },
    );
    // 131 bytes of JSON padded with 5 spaces to 136 (0x88); F32 "b" is laid out before F16 "a".
    const header = '{"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}     ';
    const expected = [0x88, 0, 0, 0, 0, 0, 0, 0, ...Array.from(header, (c) => c.charCodeAt(0)), 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x3c, 0x00, 0xc0];
    expect(Array.from(bytes)).toEqual(expected);
    const file = read(bytes);
    expect(tensorToFloat32(file.tensors.get('a')!, FILE)).toEqual(Float32Array.of(1, -2));
    expect(tensorToFloat32(file.tensors.get('b')!, FILE)).toEqual(Float32Array.of(1.5));
  });

  test('Float32Array data is converted when writing F16 and BF16 (round to nearest even)', () => {
    const rng = new SeededRandom(7);
    const values = rng.normalArray(1000, 100);
    // Exact ties: 1 + 2^-11 lies halfway between two halves, 1 + 2^-8 halfway between two bfloat16s.
    values.set([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 70000, -1e-9, NaN], 0);
    const file = read(writeSafetensors([['h', { dtype: 'F16', shape: [1000], data: values }], ['b', { dtype: 'BF16', shape: [1000], data: values }]]));
    const half = tensorToFloat32(file.tensors.get('h')!, FILE);
    expect(sameBits(half, fromHalf(toHalf(values)))).toBe(true);
    expect(Array.from(half.slice(0, 4))).toEqual([1, 1 + 2 ** -9, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    expect(half[4]).toBe(Infinity);

    const brain = tensorToFloat32(file.tensors.get('b')!, FILE);
    expect(Array.from(brain.slice(0, 4))).toEqual([1, 1, 1, 1 + 2 ** -6]);
    expect(brain[6]).toBeNaN();
    // Independent reference: the nearest of the two bfloat16 neighbours (ties to the even one).
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const bf = (bits: number) => {
      u32[0] = bits << 16;
      return f32[0];
    };
    for (let i = 7; i < values.length; i++) {
      f32[0] = values[i];
      const low = u32[0] >>> 16;
      const x = values[i];
      const a = bf(low);
      const b = bf(low + 1);
      const nearest = Math.abs(x - a) < Math.abs(x - b) || (Math.abs(x - a) === Math.abs(x - b) && low % 2 === 0) ? a : b;
      expect(brain[i]).toBe(nearest);
      expect(float32ToBfloat16Bits(values[i])).toBe(nearest === a ? low : low + 1);
    }
  });

  test('header-only reading from the first bytes gives absolute byte ranges', () => {
    const rng = new SeededRandom(3);
    const bytes = writeSafetensors(
      [
        ['x', randomTensor('F32', [4, 3], rng)],
        ['y', randomTensor('F16', [5], rng)],
        ['z', randomTensor('U8', [3], rng)],
      ],
      { a: 'b' },
    );
    const { dataStart, headerLength } = readSafetensorsPrefix(bytes.slice(0, 8), bytes.length, FILE);
    expect(dataStart).toBe(8 + headerLength);
    const header = readSafetensorsHeader(bytes.slice(0, dataStart), bytes.length, FILE);
    const full = read(bytes);
    expect(header.metadata).toEqual({ a: 'b' });
    for (const [name, e] of header.tensors) {
      expect(bytes.subarray(e.start, e.end)).toEqual(full.tensors.get(name)!.data);
      expect(e.end - e.start).toBe(e.elementCount * DTYPE_BYTES[e.dtype]);
    }
    expect(() => readSafetensorsHeader(bytes.slice(0, dataStart - 1), bytes.length, FILE)).toThrow(RangeError);
    // The file length is what offsets are checked against: a shorter claimed file fails.
    expectFormatError(() => readSafetensorsHeader(bytes.slice(0, dataStart), bytes.length - 1, FILE), 'data_offsets', /beyond the data section/);
    expectFormatError(() => readSafetensorsHeader(bytes.slice(0, dataStart), bytes.length + 1, FILE), 'data section', /1 trailing bytes/);
  });

  test('writer refuses inconsistent input', () => {
    const f = Float32Array.of(1, 2);
    expect(() => writeSafetensors([['a', { dtype: 'F32', shape: [3], data: f }]])).toThrow(ShapeError);
    expect(() => writeSafetensors([['a', { dtype: 'F32', shape: [-2], data: f }]])).toThrow(ShapeError);
    expect(() => writeSafetensors([['a', { dtype: 'I32', shape: [2], data: f }]])).toThrow(InputError);
    expect(() => writeSafetensors([['a', { dtype: 'F64' as SafetensorsDtype, shape: [2], data: f }]])).toThrow(InputError);
    expect(() => writeSafetensors([['a', { dtype: 'F32', shape: [2], data: f }], ['a', { dtype: 'F32', shape: [2], data: f }]])).toThrow(/twice/);
    expect(() => writeSafetensors([['__metadata__', { dtype: 'F32', shape: [2], data: f }]])).toThrow(/reserved/);
    expect(() => writeSafetensors([], { n: 3 as unknown as string })).toThrow(/must be a string/);
  });

  test('element helpers refuse the wrong dtype with a FormatError naming the tensor', () => {
    const file = read(writeSafetensors([['ids', { dtype: 'I64', shape: [1], data: BigInt64Array.of(1n) }]]));
    expectFormatError(() => tensorToFloat32(file.tensors.get('ids')!, FILE), '"ids".dtype', /float dtype/);
    expectFormatError(() => tensorToInt32(file.tensors.get('ids')!, FILE), '"ids".dtype', /expected I32/);
  });

  test('keys like __proto__ stay data', () => {
    const file = read(writeSafetensors([['__proto__', { dtype: 'U8', shape: [1], data: Uint8Array.of(9) }]], { __proto__: 'x' } as Record<string, string>));
    expect(file.tensors.get('__proto__')!.data[0]).toBe(9);
    const text = rawFile('{"__metadata__":{"__proto__":"x","constructor":"y"}}');
    const meta = read(text).metadata;
    expect(Object.keys(meta)).toEqual(['__proto__', 'constructor']);
    expect(meta.__proto__).toBe('x');
  });
});

describe('safetensors reader refuses malformed files', () => {
  const okEntry = entry('F32', [2], [0, 8]);

  test('accepts trailing spaces (as the reference writer pads) and other JSON whitespace', () => {
    expect(read(rawFile(`{"w":${okEntry}}        `, 8)).tensors.get('w')!.shape).toEqual([2]);
    expect(read(rawFile(`{ "w" : ${okEntry} }\n\t\r `, 8)).tensors.size).toBe(1);
    expect(read(rawFile('{}')).tensors.size).toBe(0);
  });

  test('header length: too short a file, over the cap, beyond the file', () => {
    expectFormatError(() => read(new Uint8Array(5)), 'header length', /8-byte/);
    expectFormatError(() => read(rawFile('{}', 0, BigInt(MAX_HEADER_BYTES + 1))), 'header length', /limit/);
    expectFormatError(() => read(rawFile('{}', 0, 0xffffffffffffffffn)), 'header length', /limit/);
    expectFormatError(() => read(rawFile('{}', 0, 3n)), 'header length', /does not fit/);
    expectFormatError(() => read(rawFile('{}', 0, 0n)), 'header', /starting with/);
    expectFormatError(() => read(rawFile(`{"w":${okEntry}}`, 8, 20n)), 'header');
  });

  test('header text: UTF-8, JSON object, nothing after it', () => {
    const invalidUtf8 = rawFile('{"w":1}');
    invalidUtf8[10] = 0xff;
    expectFormatError(() => read(invalidUtf8), 'header', /UTF-8/);
    expectFormatError(() => read(rawFile('\ufeff{}')), 'header', /starting with/);
    expectFormatError(() => read(rawFile('[]')), 'header', /starting with/);
    expectFormatError(() => read(rawFile(' {}')), 'header', /starting with/);
    expectFormatError(() => read(rawFile('{}x')), 'header', /only whitespace/);
    expectFormatError(() => read(rawFile('{}\0')), 'header', /only whitespace/);
    expectFormatError(() => read(rawFile('{"w":')), 'header', /end of JSON/);
    expectFormatError(() => read(rawFile('{"w":{"a":"\\q"}}')), 'header', /escape/);
    expectFormatError(() => read(rawFile('{"w":{"a":"\n"}}')), 'header', /control character/);
    expectFormatError(() => read(rawFile(`{"x":${'['.repeat(100000)}}`)), 'header', /nested deeper/);
  });

  test('repeated keys (JSON.parse would silently keep the last)', () => {
    expectFormatError(() => read(rawFile(`{"w":${okEntry},"w":${okEntry}}`, 8)), 'header key "w"', /more than once/);
    expectFormatError(() => read(rawFile(`{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)), 'key "dtype"');
    expectFormatError(() => read(rawFile('{"__metadata__":{"a":"1","a":"2"}}')), 'key "a"');
    expectFormatError(() => read(rawFile('{"__metadata__":{},"__metadata__":{}}')), 'key "__metadata__"');
    // An escaped spelling of the same key is the same key.
    expectFormatError(() => read(rawFile(`{"w":${okEntry},"\\u0077":${okEntry}}`, 8)), 'header key "w"');
  });

  test('metadata must map strings to strings', () => {
    expectFormatError(() => read(rawFile('{"__metadata__":{"seed":42}}')), '__metadata__."seed"', /strings/);
    expectFormatError(() => read(rawFile('{"__metadata__":{"a":null}}')), '__metadata__."a"');
    expectFormatError(() => read(rawFile('{"__metadata__":{"a":{"b":"c"}}}')), '__metadata__."a"');
    expectFormatError(() => read(rawFile('{"__metadata__":["a"]}')), '__metadata__', /object of strings/);
    expectFormatError(() => read(rawFile('{"__metadata__":"a"}')), '__metadata__');
  });

  test('entries: fields, dtype whitelist, shapes, offsets', () => {
    const one = (e: string, data = 8) => read(rawFile(`{"w":${e}}`, data));
    expectFormatError(() => one('[1]'), '"w"', /entry object/);
    expectFormatError(() => one('{"dtype":"F32","shape":[2]}'), '"w".data_offsets', /missing/);
    expectFormatError(() => one('{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}'), '"w".x', /unknown field/);
    for (const dtype of ['F64', 'f32', 'BOOL', 'I8', 'U16', 'F8_E4M3', ''])
      expectFormatError(() => one(entry(dtype, [2], [0, 8])), '"w".dtype', new RegExp(`unsupported dtype "${dtype}"`));
    expectFormatError(() => one('{"dtype":7,"shape":[2],"data_offsets":[0,8]}'), '"w".dtype');
    for (const shape of [[-1], [1.5], ['2'], [2 ** 53], [null], 2])
      expectFormatError(() => one(entry('F32', shape as unknown[], [0, 8])), '"w".shape', /non-negative integers/);
    for (const offsets of [[0], [0, 8, 8], [-8, 0], [0, '8'], [0, 8.5], [0, 2 ** 64]])
      expectFormatError(() => one(entry('F32', [2], offsets)), '"w".data_offsets', /\[begin, end\]/);
    expectFormatError(() => one(entry('F32', [2], [8, 0])), '"w".data_offsets', /after end/);
    expectFormatError(() => one(entry('F32', [2], [0, 16])), '"w".data_offsets', /beyond the data section/);
    expectFormatError(() => one(entry('F32', [3], [0, 8])), '"w"', /needs 12 bytes/);
    expectFormatError(() => one(entry('F16', [2], [0, 8])), '"w"', /needs 4 bytes/);
  });

  test('huge shapes fail fast without overflow', () => {
    const start = performance.now();
    for (const shape of [[2 ** 26, 2 ** 26, 2 ** 26], [2 ** 51, 4], [4294967296, 4294967296, 0, 3], Array(5000).fill(2 ** 40)]) {
      const e = expectFormatError(() => read(rawFile(`{"w":${entry('I64', shape, [0, 8])}}`, 8)), '"w"');
      if (shape.includes(0)) expect(e.detail).toMatch(/needs 0 bytes/);
      else expect(e.detail).toMatch(/more than 2\^53/);
    }
    // 2^53 elements of 8 bytes would overflow exact float arithmetic; it must still be refused.
    expectFormatError(() => read(rawFile(`{"w":${entry('I64', [2 ** 50, 8], [0, 8])}}`, 8)), '"w"');
    expect(performance.now() - start).toBeLessThan(1000);
  });

  test('tensors must cover the data section densely', () => {
    const two = (a: number[], b: number[], data: number) => read(rawFile(`{"a":${entry('U8', [a[1] - a[0]], a)},"b":${entry('U8', [b[1] - b[0]], b)}}`, data));
    expect(two([4, 8], [0, 4], 8).tensors.get('a')!.start).toBeGreaterThan(two([4, 8], [0, 4], 8).tensors.get('b')!.start);
    expectFormatError(() => two([0, 4], [5, 8], 8), '"b".data_offsets', /gap of 1 bytes after "a"/);
    expectFormatError(() => two([1, 4], [4, 8], 8), '"a".data_offsets', /gap of 1 bytes after the header/);
    expectFormatError(() => two([0, 5], [4, 8], 8), '"b".data_offsets', /overlaps "a"/);
    expectFormatError(() => two([0, 4], [0, 4], 4), '"b".data_offsets', /overlaps "a"/);
    expectFormatError(() => two([0, 4], [4, 8], 9), 'data section', /1 trailing bytes/);
    expectFormatError(() => read(rawFile('{}', 1)), 'data section', /1 trailing bytes/);
    // Zero-size tensors sit at the cursor, not inside another tensor.
    expect(two([0, 0], [0, 4], 4).tensors.size).toBe(2);
    expect(two([4, 4], [0, 4], 4).tensors.size).toBe(2);
    expectFormatError(() => two([2, 2], [0, 4], 4), '"a".data_offsets', /overlaps "b"/);
  });
});

describe('strict JSON parser', () => {
  /** Random JSON text from nested values, with whitespace, escapes and numbers of every form. */
  function randomJson(rng: SeededRandom, depth: number): string {
    const r = rng.uniform();
    const ws = () => [' ', '', '\n', '\t', '  '][Math.floor(rng.uniform() * 5)];
    if (depth > 3 || r < 0.3) {
      const scalars = ['0', '-0', '12', '-3.25', '1e5', '2E-3', '-0.5e+2', 'true', 'false', 'null', '"a"', '"\\u00e9\\n\\"\\\\\\/"', '"ü✓"', '""', '"\\ud83d\\ude00"'];
      return scalars[Math.floor(rng.uniform() * scalars.length)];
    }
    const n = Math.floor(rng.uniform() * 4);
    if (r < 0.65) return `[${ws()}${Array.from({ length: n }, () => randomJson(rng, depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
    return `{${ws()}${Array.from({ length: n }, (_, i) => `"k${i}"${ws()}:${ws()}${randomJson(rng, depth + 1)}`).join(`,${ws()}`)}${ws()}}`;
  }
  const plain = (value: unknown): unknown =>
    value instanceof Map ? Object.fromEntries([...value].map(([k, v]) => [k, plain(v)])) : Array.isArray(value) ? value.map(plain) : value;

  test('agrees with JSON.parse on 2000 valid and 2000 mutated texts', () => {
    const rng = new SeededRandom(11);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      let text = randomJson(rng, 0);
      if (i % 2 === 1) text = new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), rng).bytes);
      let reference: unknown;
      let referenceOk = true;
      try {
        reference = JSON.parse(text);
      } catch {
        referenceOk = false;
      }
      try {
        const value = parseStrictJson(text, FILE, 'json');
        expect(referenceOk).toBe(true);
        expect(plain(value)).toEqual(reference);
        accepted++;
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        // The only texts JSON.parse takes and we refuse repeat a key.
        if (referenceOk) expect((error as FormatError).detail).toMatch(/more than once/);
        refused++;
      }
    }
    expect(accepted).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(300);
  });
});
