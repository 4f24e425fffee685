import { describe, expect, test } from 'vitest';
import { toByte, vaeOutputToImage } from '../../src/pipeline/image/vae-output.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';

const float32FromBits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];

describe('VAE output -> RGBA', () => {
  /*
   * Computed with numpy 2.4 as diffusers does it:
   *   v = np.clip(x / np.float32(2) + np.float32(0.5), 0, 1); (v * np.float32(255)).round().astype(np.uint8)
   * The first four inputs are float32 values whose v * 255 is exactly k + 1/2 (126.5, 200.5,
   * 253.5, 254.5): numpy rounds those ties to even, so round-half-up would give 127, 201, 254, 255.
   */
  const cases: [number, number][] = [
    [float32FromBits(3154149472), 126],
    [float32FromBits(1058181778), 200],
    [float32FromBits(1065155835), 254],
    [float32FromBits(1065287422), 254],
    [-3, 0],
    [-1, 0],
    [-0.5, 64], // 63.75
    [0, 128], // 127.5 -> even
    [0.25, 159], // 159.375
    [0.5, 191], // 191.25
    [0.999, 255], // 254.8725
    [1, 255],
    [1.5, 255],
    [-0.003921568859368563, 127],
    [0.003921568859368563, 128],
    [0.3333333134651184, 170], // 169.99998
    [-0.7777776718139648, 28],
    [Infinity, 255],
    [-Infinity, 0],
    [NaN, 0],
  ];

  test.each(cases)('x = %s -> %i (numpy reference)', (x, want) => {
    expect(toByte(Math.fround(x))).toBe(want);
  });

  test('random values stay within 1/2 of the float64 value clamp((x + 1) / 2) * 255 and round to it away from ties', () => {
    const random = new SeededRandom(3);
    let checked = 0;
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround(random.uniformIn(-1.2, 1.2));
      const exact = Math.min(1, Math.max(0, (x + 1) / 2)) * 255;
      const got = toByte(x);
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(0.5 + 1e-4);
      if (Math.abs((exact % 1) - 0.5) > 1e-3) {
        expect(got).toBe(Math.round(exact));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(19000);
  });

  test('[1, 3, H, W] planes become interleaved RGBA rows with alpha 255', () => {
    const width = 3;
    const height = 2;
    const plane = width * height;
    // channel c at pixel p: distinct values that map to distinct bytes
    const values = new Float32Array(3 * plane).map((_, i) => -1 + (2 * (i + 1)) / (3 * plane + 1));
    const image = vaeOutputToImage(values, width, height);
    expect(image.width).toBe(width);
    expect(image.height).toBe(height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * width + x;
        const at = 4 * p;
        expect([...image.rgba.subarray(at, at + 4)]).toEqual([
          toByte(values[p]),
          toByte(values[plane + p]),
          toByte(values[2 * plane + p]),
          255,
        ]);
      }
    }
    expect(new Set(image.rgba.filter((_, i) => i % 4 !== 3)).size).toBe(3 * plane);
  });

  test('a wrong length or size is a ShapeError', () => {
    expect(() => vaeOutputToImage(new Float32Array(17), 3, 2)).toThrow(ShapeError);
    expect(() => vaeOutputToImage(new Float32Array(17), 3, 2)).toThrow(/\[1, 3, 2, 3\] = 18/);
    expect(() => vaeOutputToImage(new Float32Array(0), 0, 0)).toThrow(ShapeError);
  });
});
