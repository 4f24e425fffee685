import type { JudgeImage } from './judges/judge.ts';
import { toPlanarRgb } from './judges/resize.ts';

/** The image at most `side` pixels a side (area-averaged, square images stay square); small images pass unchanged. */
export function thumbnail(image: JudgeImage, side: number): JudgeImage {
  if (image.width <= side && image.height <= side) return image;
  if (image.width !== image.height) {
    // The judge's resampler works on squares; non-square images are rare here (packs draw squares).
    return image;
  }
  const planar = toPlanarRgb(image, side);
  const plane = side * side;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    rgba[i * 4] = Math.round(planar[i] * 255);
    rgba[i * 4 + 1] = Math.round(planar[i + plane] * 255);
    rgba[i * 4 + 2] = Math.round(planar[i + 2 * plane] * 255);
    rgba[i * 4 + 3] = 255;
  }
  return { width: side, height: side, rgba };
}
