/**
 * Pixel comparisons for the before/after pair. The UI says "identical to original" only when
 * every byte matches: with no edit active the erased image must be the original, bit for bit.
 */

export interface PixelDifference {
  /** Every byte equal (and the same length). */
  identical: boolean;
  /** Mean |a - b| over the RGB channels, in 0..255 units (alpha is ignored: it is always 255). */
  meanAbsDiff: number;
  /** Largest |a - b| over the RGB channels. */
  maxAbsDiff: number;
  /** Pixels whose RGB differs at all. */
  pixelsChanged: number;
  pixels: number;
}

export function pixelsEqual(a: Uint8ClampedArray, b: Uint8ClampedArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Mean absolute RGB difference of two RGBA images of the same size. */
export function meanAbsDiff(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  return compareRgba(a, b).meanAbsDiff;
}

export function compareRgba(a: Uint8ClampedArray, b: Uint8ClampedArray): PixelDifference {
  if (a.length !== b.length) throw new RangeError(`compareRgba: the images differ in size (${a.length} vs ${b.length} bytes)`);
  if (a.length % 4 !== 0) throw new RangeError(`compareRgba: ${a.length} bytes is not RGBA (a multiple of 4)`);
  const pixels = a.length / 4;
  let sum = 0;
  let max = 0;
  let changed = 0;
  for (let p = 0; p < pixels; p++) {
    let pixelChanged = false;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a[4 * p + c] - b[4 * p + c]);
      sum += d;
      if (d > max) max = d;
      if (d !== 0) pixelChanged = true;
    }
    if (pixelChanged) changed++;
  }
  return { identical: pixelsEqual(a, b), meanAbsDiff: pixels === 0 ? 0 : sum / (3 * pixels), maxAbsDiff: max, pixelsChanged: changed, pixels };
}

/** The caption under the erased image. */
export function describeDifference(diff: PixelDifference): string {
  if (diff.identical) return 'identical to original';
  const share = (100 * diff.pixelsChanged) / Math.max(diff.pixels, 1);
  return `differs by ${diff.meanAbsDiff.toFixed(2)} on average (max ${diff.maxAbsDiff}; ${share.toFixed(share < 10 ? 1 : 0)}% of pixels)`;
}

/**
 * A difference heatmap of two RGBA images: each pixel's mean |a - b| over RGB, scaled so the
 * largest difference is full brightness, coloured black → red → yellow → white. Identical
 * images give black. `maxAbsDiff` is returned so the legend can say what brightest means.
 */
export function differenceHeatmap(a: Uint8ClampedArray, b: Uint8ClampedArray): { rgba: Uint8ClampedArray; maxMeanDiff: number } {
  if (a.length !== b.length) throw new RangeError(`differenceHeatmap: the images differ in size (${a.length} vs ${b.length} bytes)`);
  if (a.length % 4 !== 0) throw new RangeError(`differenceHeatmap: ${a.length} bytes is not RGBA (a multiple of 4)`);
  const pixels = a.length / 4;
  const diff = new Float64Array(pixels);
  let max = 0;
  for (let p = 0; p < pixels; p++) {
    const d = (Math.abs(a[4 * p] - b[4 * p]) + Math.abs(a[4 * p + 1] - b[4 * p + 1]) + Math.abs(a[4 * p + 2] - b[4 * p + 2])) / 3;
    diff[p] = d;
    if (d > max) max = d;
  }
  const rgba = new Uint8ClampedArray(a.length);
  for (let p = 0; p < pixels; p++) {
    const t = max === 0 ? 0 : diff[p] / max;
    const [r, g, bl] = heatColor(t);
    rgba[4 * p] = r;
    rgba[4 * p + 1] = g;
    rgba[4 * p + 2] = bl;
    rgba[4 * p + 3] = 255;
  }
  return { rgba, maxMeanDiff: max };
}

/** t in [0, 1] → black (0) → red (1/3) → yellow (2/3) → white (1). */
export function heatColor(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * 3;
  const ramp = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  return [ramp(x), ramp(x - 1), ramp(x - 2)];
}
