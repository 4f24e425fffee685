import { ShapeError } from '../../util/errors.ts';
import { MAX_IMAGE_SIDE, type RgbImage } from './rgb-image.ts';

/**
 * The VAE decoder's output [1, 3, height, width] (channels R, G, B; nominally in [-1, 1]) as
 * an opaque RGBA image, rounded exactly as diffusers' VaeImageProcessor + numpy_to_pil do:
 * `(x / 2 + 0.5).clamp(0, 1)` in float32, `* 255` in float32, then numpy's round (half to
 * even). Math.fround after each operation reproduces the float32 arithmetic: the double
 * result of one +, * or / on float32 operands rounds to the same float32 as float32 hardware.
 * NaN becomes 0 (clamp lets it through; we pick black rather than an undefined cast).
 */
export function vaeOutputToImage(values: Float32Array, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ShapeError(`VAE output: image size ${width} x ${height}, expected integers in [1, ${MAX_IMAGE_SIDE}]`);
  }
  const plane = width * height;
  if (values.length !== 3 * plane) {
    throw new ShapeError(`VAE output: got ${values.length} values, expected [1, 3, ${height}, ${width}] = ${3 * plane}`);
  }
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    rgba[4 * p] = toByte(values[p]);
    rgba[4 * p + 1] = toByte(values[plane + p]);
    rgba[4 * p + 2] = toByte(values[2 * plane + p]);
    rgba[4 * p + 3] = 255;
  }
  return { width, height, rgba };
}

/** One channel value of the decoder's output as a byte. */
export function toByte(x: number): number {
  const unit = Math.fround(Math.fround(x / 2) + 0.5);
  if (!(unit > 0)) return 0; // also NaN
  if (unit >= 1) return 255;
  return roundHalfEven(Math.fround(unit * 255));
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}
