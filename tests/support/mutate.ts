/**
 * Seeded byte mutations for fuzzing parsers (safetensors, ONNX, manifests): truncations, bit
 * flips, byte overwrites and splices, all drawn from SeededRandom so a failing case is
 * reproducible from its seed and index. Every function returns a new array; inputs are never
 * modified.
 */
import { SeededRandom } from '../../src/util/random.ts';

/** A named byte range [start, end) of a file, to aim mutations at one part of it. */
export interface ByteRegion {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

export interface Mutation {
  /** What was done, e.g. "flip 3 bits in header" (for test failure messages). */
  readonly kind: string;
  readonly bytes: Uint8Array;
}

/** Uniform integer in [low, high). */
export function randomInt(rng: SeededRandom, low: number, high: number): number {
  if (!(high > low)) throw new RangeError(`randomInt: empty range [${low}, ${high})`);
  return low + Math.floor(rng.uniform() * (high - low));
}

export function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[randomInt(rng, 0, items.length)];
}

/** The first `length` bytes (a copy). */
export function truncate(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.slice(0, Math.max(0, Math.min(length, bytes.length)));
}

/** Every truncation length inside each region, or at most `perRegion` of them spread evenly. */
export function truncationLengths(regions: readonly ByteRegion[], perRegion = Number.POSITIVE_INFINITY): number[] {
  const lengths = new Set<number>();
  for (const { start, end } of regions) {
    const span = end - start;
    const step = span <= perRegion ? 1 : span / perRegion;
    for (let at = start; at < end; at += step) lengths.add(Math.floor(at));
  }
  return [...lengths].sort((a, b) => a - b);
}

/** Flips `count` random bits inside [start, end). */
export function flipBits(bytes: Uint8Array, rng: SeededRandom, count = 1, start = 0, end = bytes.length): Uint8Array {
  const out = bytes.slice();
  if (end <= start) return out;
  for (let i = 0; i < count; i++) out[randomInt(rng, start, end)] ^= 1 << randomInt(rng, 0, 8);
  return out;
}

/** Overwrites `length` bytes at `at` with `values`, or with random bytes when none are given. */
export function overwriteBytes(bytes: Uint8Array, at: number, length: number, rng: SeededRandom, values?: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < length && at + i < out.length; i++) out[at + i] = values ? values[i % values.length] : randomInt(rng, 0, 256);
  return out;
}

/** Removes `remove` bytes at `at` and inserts `insert` there. */
export function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  at = Math.max(0, Math.min(at, bytes.length));
  remove = Math.max(0, Math.min(remove, bytes.length - at));
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** Bytes that parsers treat specially: zeros, 0xff, and (for text formats) JSON punctuation and digits. */
const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x2d, 0x30, 0x39, 0x20, 0x65];

/**
 * One random mutation. With `regions`, it is aimed at one random region (truncation inside it,
 * bit flips, overwrites with random or interesting bytes, deletion, duplication or insertion of
 * random bytes); without, the whole array is one region.
 */
export function mutateBytes(bytes: Uint8Array, rng: SeededRandom, regions?: readonly ByteRegion[]): Mutation {
  const region = regions && regions.length > 0 ? pick(rng, regions) : { name: 'file', start: 0, end: bytes.length };
  const start = Math.min(region.start, bytes.length);
  const end = Math.max(start + 1, Math.min(region.end, bytes.length));
  const at = () => randomInt(rng, start, end);
  const small = () => randomInt(rng, 1, 9);
  switch (randomInt(rng, 0, 7)) {
    case 0: {
      const length = at();
      return { kind: `truncate to ${length} in ${region.name}`, bytes: truncate(bytes, length) };
    }
    case 1: {
      const count = randomInt(rng, 1, 4);
      return { kind: `flip ${count} bits in ${region.name}`, bytes: flipBits(bytes, rng, count, start, end) };
    }
    case 2: {
      const where = at();
      const length = small();
      return { kind: `overwrite ${length} bytes at ${where} in ${region.name}`, bytes: overwriteBytes(bytes, where, length, rng) };
    }
    case 3: {
      const where = at();
      const value = pick(rng, INTERESTING);
      return { kind: `set byte ${where} in ${region.name} to ${value}`, bytes: overwriteBytes(bytes, where, 1, rng, Uint8Array.of(value)) };
    }
    case 4: {
      const where = at();
      const length = small();
      return { kind: `delete ${length} bytes at ${where} in ${region.name}`, bytes: splice(bytes, where, length) };
    }
    case 5: {
      const where = at();
      const length = Math.min(small(), bytes.length - where);
      return { kind: `duplicate ${length} bytes at ${where} in ${region.name}`, bytes: splice(bytes, where, 0, bytes.slice(where, where + length)) };
    }
    default: {
      const where = at();
      const insert = Uint8Array.from({ length: small() }, () => (rng.uniform() < 0.5 ? pick(rng, INTERESTING) : randomInt(rng, 0, 256)));
      return { kind: `insert ${insert.length} bytes at ${where} in ${region.name}`, bytes: splice(bytes, where, 0, insert) };
    }
  }
}
