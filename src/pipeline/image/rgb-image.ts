import { ShapeError } from '../../util/errors.ts';

/**
 * An 8-bit RGBA image, rows top to bottom, pixels left to right, 4 bytes each: the layout of
 * canvas ImageData, so the studio can draw it with `new ImageData(rgba, width, height)`.
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray<ArrayBuffer>;
}

/** The largest side an image may have (also canvas' practical limit in Chrome). */
export const MAX_IMAGE_SIDE = 32768;
/** The most pixels an image may have (512 MiB of RGBA): readers refuse larger headers before allocating. */
export const MAX_IMAGE_PIXELS = 2 ** 27;

/** Checks that `image` is a well-formed RgbImage; `who` names the producer in the error. */
export function checkRgbImage(image: RgbImage, who: string): void {
  const { width, height, rgba } = image;
  if (!isSide(width) || !isSide(height)) {
    throw new ShapeError(`${who}: image size ${width} x ${height}, expected integers in [1, ${MAX_IMAGE_SIDE}]`);
  }
  if (!(rgba instanceof Uint8ClampedArray) || rgba.length !== width * height * 4) {
    throw new ShapeError(`${who}: rgba has ${rgba?.length} bytes, expected ${width * height * 4} (${width} x ${height} x 4)`);
  }
}

function isSide(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_IMAGE_SIDE;
}
