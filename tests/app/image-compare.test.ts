import { describe, expect, test } from 'vitest';
import { compareRgba, describeDifference, meanAbsDiff, pixelsEqual } from '../../src/app/image-compare.ts';
import { SeededRandom } from '../../src/util/random.ts';

function randomImage(pixels: number, seed: number): Uint8ClampedArray {
  const random = new SeededRandom(seed);
  const rgba = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.floor(random.uniform() * 256);
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

describe('pixel comparison', () => {
  test('equal images are identical; one changed byte anywhere (alpha too) is not', () => {
    const a = randomImage(33, 1);
    expect(pixelsEqual(a, new Uint8ClampedArray(a))).toBe(true);
    for (const index of [0, 5, 4 * 33 - 1]) {
      const b = new Uint8ClampedArray(a);
      b[index] = b[index] === 0 ? 1 : b[index] - 1;
      expect(pixelsEqual(a, b)).toBe(false);
    }
    expect(pixelsEqual(a, a.subarray(0, 4 * 32))).toBe(false);
  });

  test('meanAbsDiff is the mean |a - b| over RGB, alpha ignored (hand-computed)', () => {
    // Pixel 0: |10-13| + |20-20| + |30-24| = 9; pixel 1: |0-255| + 0 + 0 = 255; alphas differ.
    const a = new Uint8ClampedArray([10, 20, 30, 255, 0, 7, 7, 255]);
    const b = new Uint8ClampedArray([13, 20, 24, 0, 255, 7, 7, 255]);
    expect(meanAbsDiff(a, b)).toBeCloseTo((9 + 255) / 6, 12);
    const diff = compareRgba(a, b);
    expect(diff).toMatchObject({ identical: false, maxAbsDiff: 255, pixelsChanged: 2, pixels: 2 });
  });

  test('matches a float64 loop on random images', () => {
    const a = randomImage(257, 2);
    const b = randomImage(257, 3);
    let sum = 0;
    for (let i = 0; i < a.length; i++) if (i % 4 !== 3) sum += Math.abs(a[i] - b[i]);
    expect(meanAbsDiff(a, b)).toBeCloseTo(sum / (257 * 3), 10);
  });

  test('the caption says identical only for identical pixels', () => {
    const a = randomImage(16, 4);
    expect(describeDifference(compareRgba(a, new Uint8ClampedArray(a)))).toBe('identical to original');
    const b = new Uint8ClampedArray(a);
    b[0] ^= 1;
    expect(describeDifference(compareRgba(a, b))).toMatch(/^differs by 0\.02 on average \(max 1; 6\.3% of pixels\)$/);
  });

  test('different sizes or non-RGBA lengths are refused', () => {
    expect(() => compareRgba(new Uint8ClampedArray(8), new Uint8ClampedArray(4))).toThrow(/differ in size/);
    expect(() => compareRgba(new Uint8ClampedArray(6), new Uint8ClampedArray(6))).toThrow(/RGBA/);
  });
});
