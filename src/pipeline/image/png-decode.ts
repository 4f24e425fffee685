import { FormatError } from '../../util/errors.ts';
import { crc32 } from './crc32.ts';
import { COLOR_TYPE_RGB, COLOR_TYPE_RGBA, PNG_MAX_UINT, PNG_SIGNATURE } from './png-format.ts';
import { MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, type RgbImage } from './rgb-image.ts';
import { zlibDecompress } from './zlib.ts';

/**
 * Reads an 8-bit RGB or RGBA, non-interlaced PNG (what encodePng writes, and what most tools
 * write for such images) into RGBA. It trusts nothing: every chunk's length and CRC, IHDR's
 * fields, chunk order and the inflated size are checked, and anything else (palettes, 16-bit,
 * grey, interlacing, unknown critical chunks) is a FormatError naming `file` and the field.
 */
export async function decodePng(bytes: Uint8Array, file = 'PNG'): Promise<RgbImage> {
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new FormatError(file, 'signature', 'not a PNG file (the first 8 bytes are not 89 50 4E 47 0D 0A 1A 0A)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | null = null;
  const idat: Uint8Array[] = [];
  let idatEnded = false;
  let ended = false;
  let at = PNG_SIGNATURE.length;

  while (at < bytes.length) {
    if (ended) throw new FormatError(file, 'IEND', `${bytes.length - at} bytes follow the IEND chunk`);
    if (at + 12 > bytes.length) throw new FormatError(file, 'chunk', `truncated chunk header at byte ${at}`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new FormatError(file, 'chunk', `chunk type at byte ${at + 4} is not four letters`);
    if (length > PNG_MAX_UINT || at + 12 + length > bytes.length) {
      throw new FormatError(file, type, `length ${length} at byte ${at} runs past the end of the file (${bytes.length} bytes)`);
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    const storedCrc = view.getUint32(at + 8 + length);
    const actualCrc = crc32(bytes.subarray(at + 4, at + 8 + length));
    if (storedCrc !== actualCrc) {
      throw new FormatError(file, type, `CRC ${hex(storedCrc)} at byte ${at + 8 + length} does not match the chunk's ${hex(actualCrc)}`);
    }

    if (header === null && type !== 'IHDR') throw new FormatError(file, 'IHDR', `the first chunk is ${type}, expected IHDR`);
    if (type !== 'IDAT' && idat.length > 0) idatEnded = true;
    switch (type) {
      case 'IHDR':
        if (header !== null) throw new FormatError(file, 'IHDR', 'a second IHDR chunk');
        header = parseHeader(data, file);
        break;
      case 'IDAT':
        if (idatEnded) throw new FormatError(file, 'IDAT', 'IDAT chunks are not consecutive');
        idat.push(data);
        break;
      case 'IEND':
        ended = true;
        break;
      case 'PLTE':
        break; // a suggested palette for truecolour images: allowed, not needed
      default:
        // Bit 5 of the first byte clear (an upper-case letter) marks a critical chunk.
        if ((bytes[at + 4] & 0x20) === 0) throw new FormatError(file, type, 'unknown critical chunk');
    }
    at += 12 + length;
  }
  if (!ended || header === null) throw new FormatError(file, 'IEND', 'the file ends without an IEND chunk');
  if (idat.length === 0) throw new FormatError(file, 'IDAT', 'no image data');

  const { width, height, channels } = header;
  const rowBytes = width * channels;
  const raw = await zlibDecompress(concat(idat), file, 'IDAT');
  if (raw.length !== height * (rowBytes + 1)) {
    throw new FormatError(file, 'IDAT', `inflates to ${raw.length} bytes, expected ${height} rows x ${rowBytes + 1} = ${height * (rowBytes + 1)}`);
  }
  const pixels = unfilter(raw, height, rowBytes, channels, file);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0, from = 0; p < width * height; p++, from += channels) {
    rgba[4 * p] = pixels[from];
    rgba[4 * p + 1] = pixels[from + 1];
    rgba[4 * p + 2] = pixels[from + 2];
    rgba[4 * p + 3] = channels === 4 ? pixels[from + 3] : 255;
  }
  return { width, height, rgba };
}

interface Header {
  width: number;
  height: number;
  channels: 3 | 4;
}

function parseHeader(data: Uint8Array, file: string): Header {
  if (data.length !== 13) throw new FormatError(file, 'IHDR', `length ${data.length}, expected 13`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = view.getUint32(0);
  const height = view.getUint32(4);
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (value < 1 || value > MAX_IMAGE_SIDE) throw new FormatError(file, `IHDR ${name}`, `${value}, expected 1 to ${MAX_IMAGE_SIDE}`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new FormatError(file, 'IHDR', `${width} x ${height} is more than ${MAX_IMAGE_PIXELS} pixels`);
  }
  const [bitDepth, colorType, compression, filter, interlace] = data.subarray(8);
  if (bitDepth !== 8) throw new FormatError(file, 'IHDR bit depth', `${bitDepth}, only 8 is supported`);
  if (colorType !== COLOR_TYPE_RGB && colorType !== COLOR_TYPE_RGBA) {
    throw new FormatError(file, 'IHDR colour type', `${colorType}, only 2 (RGB) and 6 (RGBA) are supported`);
  }
  if (compression !== 0) throw new FormatError(file, 'IHDR compression method', `${compression}, expected 0`);
  if (filter !== 0) throw new FormatError(file, 'IHDR filter method', `${filter}, expected 0`);
  if (interlace !== 0) throw new FormatError(file, 'IHDR interlace method', `${interlace}, only 0 (none) is supported`);
  return { width, height, channels: colorType === COLOR_TYPE_RGB ? 3 : 4 };
}

/** Undoes the per-row filters (None, Sub, Up, Average, Paeth) of filter method 0. */
function unfilter(raw: Uint8Array, height: number, rowBytes: number, bpp: number, file: string): Uint8Array {
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filterType = raw[y * (rowBytes + 1)];
    const source = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    const row = y * rowBytes;
    const above = row - rowBytes; // valid only when y > 0
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? out[row + i - bpp] : 0;
      const b = y > 0 ? out[above + i] : 0;
      const c = y > 0 && i >= bpp ? out[above + i - bpp] : 0;
      let predictor: number;
      switch (filterType) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) >>> 1;
          break;
        case 4:
          predictor = paeth(a, b, c);
          break;
        default:
          throw new FormatError(file, 'IDAT', `row ${y} has filter type ${filterType}, expected 0 to 4`);
      }
      out[row + i] = (source[i] + predictor) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
