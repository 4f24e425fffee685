/** widenHalf (binary16 words -> f32, no shader-f16 needed) against a float64 decoding of the bits. */
import { describe, expect, test } from 'vitest';
import { widenHalf } from '../../src/gpu/kernels/widen-half.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testContext } from '../support/gpu.ts';

const ctx = await testContext();

/** IEEE 754 binary16 from its fields, independently of src/util/half.ts. */
function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Infinity;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

async function widen(bits: Uint16Array): Promise<Float32Array> {
  const source = ctx.empty([bits.length], 'f16');
  ctx.writeTensor(source, bits);
  const out = widenHalf(ctx, source);
  const values = await ctx.read(out);
  source.release();
  out.release();
  return values;
}

describe('widenHalf', () => {
  test('every normal, zero and infinite binary16 value, odd count: exact', async () => {
    // All 65536 bit patterns but NaNs and subnormals, then one more so the count is odd.
    const patterns = Array.from({ length: 0x10000 }, (_, b) => b).filter((b) => {
      const exponent = (b >> 10) & 0x1f;
      return !(exponent === 0x1f && b & 0x3ff) && !(exponent === 0 && b & 0x3ff);
    });
    patterns.push(0x3c00);
    expect(patterns.length % 2).toBe(1);
    const bits = Uint16Array.from(patterns);
    const values = await widen(bits);
    expect(values.length).toBe(bits.length);
    let mismatches = 0;
    for (let i = 0; i < bits.length; i++) if (!Object.is(values[i], Math.fround(decodeHalf(bits[i])))) mismatches++;
    expect(mismatches).toBe(0);
  });

  test('subnormals decode exactly or flush to a signed zero; NaN stays NaN', async () => {
    const bits = Uint16Array.from([0x0001, 0x03ff, 0x8001, 0x83ff, 0x7e00, 0xfe01, 0x0200]);
    const values = await widen(bits);
    for (let i = 0; i < 4; i++) {
      const exact = decodeHalf(bits[i]);
      // WGSL lets unpack2x16float flush subnormal inputs; either answer keeps the sign.
      expect(values[i] === Math.fround(exact) || (values[i] === 0 && Math.sign(1 / values[i]) === Math.sign(exact))).toBe(true);
    }
    expect(Number.isNaN(values[4]) && Number.isNaN(values[5])).toBe(true);
  });

  test('a text-embedding-sized tensor (2 x 77 x 768) of random halves', async () => {
    const rng = new SeededRandom(3);
    const bits = new Uint16Array(2 * 77 * 768);
    for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(rng.uniform() * 0x7c00) | (rng.uniform() < 0.5 ? 0x8000 : 0);
    const values = await widen(bits);
    for (let i = 0; i < bits.length; i += 97) {
      const exact = decodeHalf(bits[i]);
      if ((bits[i] & 0x7c00) !== 0) expect(values[i]).toBe(Math.fround(exact));
    }
  });

  test('refuses a tensor that is not f16, by dtype', () => {
    const t = ctx.empty([4], 'f32');
    expect(() => widenHalf(ctx, t)).toThrow(ShapeError);
    expect(() => widenHalf(ctx, t)).toThrow(/expected an f16 tensor/);
    t.release();
  });
});
