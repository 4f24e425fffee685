import { crc32 } from './crc32.ts';
import { COLOR_TYPE_RGB, COLOR_TYPE_RGBA, PNG_SIGNATURE, chunkTypeBytes } from './png-format.ts';
import { checkRgbImage, type RgbImage } from './rgb-image.ts';
import { hasCompressionStreams, zlibCompress, type ZlibMode } from './zlib.ts';

export interface PngEncodeOptions {
  /**
   * 'deflate' (default where CompressionStream exists) compresses with the platform's zlib;
   * 'store' is uncompressed and gives the same bytes in every runtime. See zlib.ts.
   */
  readonly compression?: ZlibMode;
}

/**
 * A PNG of `image`: signature, IHDR, one IDAT, IEND; 8 bits per sample, no interlacing,
 * filter type 0 on every row, no ancillary chunks (no time stamps), so equal pixels give
 * equal bytes. Fully opaque images are written as RGB (colour type 2), others as RGBA (6).
 */
export async function encodePng(image: RgbImage, options: PngEncodeOptions = {}): Promise<Uint8Array> {
  checkRgbImage(image, 'encodePng');
  const { width, height, rgba } = image;
  const opaque = isOpaque(rgba);
  const channels = opaque ? 3 : 4;
  const rowBytes = 1 + width * channels;
  const raw = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    let at = y * rowBytes;
    raw[at++] = 0; // filter type None
    let from = y * width * 4;
    for (let x = 0; x < width; x++, from += 4) {
      raw[at++] = rgba[from];
      raw[at++] = rgba[from + 1];
      raw[at++] = rgba[from + 2];
      if (!opaque) raw[at++] = rgba[from + 3];
    }
  }
  const mode = options.compression ?? (hasCompressionStreams() ? 'deflate' : 'store');
  const idat = await zlibCompress(raw, mode);

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = opaque ? COLOR_TYPE_RGB : COLOR_TYPE_RGBA;
  // header[10..12]: compression 0 (deflate), filter method 0, interlace 0 (none)

  const chunks = [chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(PNG_SIGNATURE.length + chunks.reduce((sum, c) => sum + c.length, 0));
  out.set(PNG_SIGNATURE, 0);
  let at = PNG_SIGNATURE.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** length (4, big-endian), type (4), data, CRC-32 of type + data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(chunkTypeBytes(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function isOpaque(rgba: Uint8ClampedArray): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}
