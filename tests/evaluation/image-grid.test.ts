import { describe, expect, test } from 'vitest';
import { composeGrid } from '../../src/evaluation/image-grid.ts';
import { thumbnail } from '../../src/evaluation/thumbnail.ts';

const solid = (size: number, value: number) => ({ width: size, height: size, rgba: new Uint8ClampedArray(size * size * 4).fill(value) });

describe('image grid and thumbnails', () => {
  test('cells land at gap + index * (size + gap); missing cells stay background', () => {
    const grid = composeGrid([{ row: 0, column: 1, image: solid(3, 200) }, { row: 1, column: 0, image: solid(3, 100) }], 2, 2, 1, [0, 0, 0]);
    expect([grid.width, grid.height]).toEqual([2 * 3 + 3, 2 * 3 + 3]);
    const at = (x: number, y: number) => grid.rgba[(y * grid.width + x) * 4];
    expect(at(1 + 3 + 1, 1)).toBe(200); // row 0, column 1, top-left
    expect(at(1 + 3 + 1 + 2, 1 + 2)).toBe(200); // its bottom-right
    expect(at(1, 1 + 3 + 1)).toBe(100); // row 1, column 0
    expect(at(1, 1)).toBe(0); // row 0, column 0: missing
    expect(at(0, 0)).toBe(0); // gap
    expect(grid.rgba[3]).toBe(255);
    expect(() => composeGrid([{ row: 0, column: 0, image: solid(3, 1) }, { row: 0, column: 1, image: solid(4, 1) }], 1, 2)).toThrow('differ in size');
    expect(() => composeGrid([{ row: 2, column: 0, image: solid(3, 1) }], 2, 2)).toThrow('outside 2x2');
  });

  test('thumbnails: small images pass through; large ones are area-averaged to the side', () => {
    const small = solid(64, 9);
    expect(thumbnail(small, 128)).toBe(small);
    const big = solid(256, 0);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 128; x++) big.rgba[(y * 256 + x) * 4] = 255;
    const t = thumbnail(big, 128);
    expect([t.width, t.height]).toEqual([128, 128]);
    expect(t.rgba[0]).toBe(255);
    expect(t.rgba[(127) * 4]).toBe(0);
    expect(t.rgba[3]).toBe(255);
  });
});
