import type { JudgeImage } from './judge.ts';

/**
 * RGB planes [3, size, size] in [0, 1] (NCHW order for one image), resampled by exact area
 * averaging: each output pixel is the coverage-weighted mean of the source pixels under it, so a
 * 512px image shrinks to 64px without aliasing and a 64px image passes through unchanged.
 */
export function toPlanarRgb(image: JudgeImage, size: number, out = new Float32Array(3 * size * size), offset = 0): Float32Array {
  const { width, height, rgba } = image;
  if (!(width > 0 && height > 0) || rgba.length !== width * height * 4) throw new RangeError(`judge: image of ${width}x${height} has ${rgba.length} RGBA bytes, expected ${width * height * 4}`);
  const xs = coverage(width, size);
  const ys = coverage(height, size);
  const plane = size * size;
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let w = 0;
      for (const [sy, wy] of ys[oy]) {
        for (const [sx, wx] of xs[ox]) {
          const weight = wx * wy;
          const i = (sy * width + sx) * 4;
          r += rgba[i] * weight;
          g += rgba[i + 1] * weight;
          b += rgba[i + 2] * weight;
          w += weight;
        }
      }
      const o = offset + oy * size + ox;
      out[o] = r / w / 255;
      out[o + plane] = g / w / 255;
      out[o + 2 * plane] = b / w / 255;
    }
  }
  return out;
}

/** For each output cell, the source cells it overlaps and by how much (in source-pixel units). */
function coverage(source: number, target: number): [number, number][][] {
  const cells: [number, number][][] = [];
  const step = source / target;
  for (let o = 0; o < target; o++) {
    const start = o * step;
    const end = start + step;
    const list: [number, number][] = [];
    for (let s = Math.floor(start); s < Math.min(source, Math.ceil(end)); s++) {
      const overlap = Math.min(end, s + 1) - Math.max(start, s);
      if (overlap > 1e-12) list.push([s, overlap]);
    }
    cells.push(list);
  }
  return cells;
}
