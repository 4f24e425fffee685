import zlib from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { crc32 } from '../../src/pipeline/image/crc32.ts';
import { decodePng } from '../../src/pipeline/image/png-decode.ts';
import { encodePng } from '../../src/pipeline/image/png-encode.ts';
import type { RgbImage } from '../../src/pipeline/image/rgb-image.ts';
import { adler32, zlibStore } from '../../src/pipeline/image/zlib.ts';
import { SeededRandom } from '../../src/util/random.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/** A PNG assembled by the test itself, with node:zlib's CRC-32 (independent of ours). */
function buildPng(chunks: [string, Uint8Array][]): Uint8Array {
  const parts: Buffer[] = [Buffer.from(fromHex('89504e470d0a1a0a'))];
  for (const [type, data] of chunks) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    parts.push(length, body, crc);
  }
  return new Uint8Array(Buffer.concat(parts));
}

function ihdr(width: number, height: number, bitDepth = 8, colorType = 6, interlace = 0): Uint8Array {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colorType;
  data[12] = interlace;
  return new Uint8Array(data);
}

function randomImage(width: number, height: number, seed: number, opaque: boolean): RgbImage {
  const random = new SeededRandom(seed);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = opaque && i % 4 === 3 ? 255 : random.nextUint32() & 0xff;
  return { width, height, rgba };
}

describe('checksums', () => {
  test('crc32 gives the CRC-32 check value and agrees with node:zlib on random data, also when continued', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const data = randomImage(97, 13, 5, false).rgba;
    const bytes = new Uint8Array(data.buffer);
    expect(crc32(bytes)).toBe(zlib.crc32(bytes));
    expect(crc32(bytes.subarray(1000), crc32(bytes.subarray(0, 1000)))).toBe(zlib.crc32(bytes));
  });

  test('adler32 gives the RFC 1950 values', () => {
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
    expect(adler32(new Uint8Array(0))).toBe(1);
    // 100000 bytes of 0xff: a = 1 + 255 n, b = sum_k (1 + 255 k), reduced mod 65521 (exact in doubles).
    const n = 100000;
    const a = (1 + 255 * n) % 65521;
    const b = (n + (255 * n * (n + 1)) / 2) % 65521;
    expect(adler32(new Uint8Array(n).fill(0xff))).toBe(((b * 65536) + a) >>> 0);
  });

  test('zlibStore writes stored blocks that node:zlib inflates, split at 65535 bytes', () => {
    for (const length of [0, 1, 65535, 65536, 140000]) {
      const data = new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);
      const stored = zlibStore(data);
      expect(stored.length).toBe(2 + 5 * Math.max(1, Math.ceil(length / 65535)) + length + 4);
      expect(new Uint8Array(zlib.inflateSync(stored))).toEqual(data);
    }
  });
});

describe('encodePng', () => {
  const red: RgbImage = { width: 1, height: 1, rgba: new Uint8ClampedArray([255, 0, 0, 255]) };

  test('a 1x1 opaque red pixel gives the known bytes: RGB IHDR with CRC 907753de, zlib IDAT, IEND ae426082', async () => {
    const png = await encodePng(red);
    const idat = zlib.deflateSync(Buffer.from([0, 255, 0, 0])); // filter byte 0, then R G B
    const idatCrc = zlib.crc32(Buffer.concat([Buffer.from('IDAT'), idat])).toString(16).padStart(8, '0');
    expect(hex(png)).toBe(
      '89504e470d0a1a0a' +
        '0000000d' + '49484452' + '00000001' + '00000001' + '08' + '02' + '000000' + '907753de' +
        idat.length.toString(16).padStart(8, '0') + '49444154' + idat.toString('hex') + idatCrc +
        '00000000' + '49454e44' + 'ae426082',
    );
    expect(idat.toString('hex')).toBe('789c63f8cfc0000003010100');
  });

  test("'store' compression gives bytes fixed by the format alone, and a translucent pixel is RGBA", async () => {
    const pixel: RgbImage = { width: 1, height: 1, rgba: new Uint8ClampedArray([255, 0, 0, 128]) };
    const png = await encodePng(pixel, { compression: 'store' });
    // zlib header 7801, one final stored block of 5 bytes (LEN 0005, NLEN fffa), the raw row, Adler-32.
    const raw = Buffer.from([0, 255, 0, 0, 128]);
    const idat = Buffer.concat([Buffer.from('7801010500faff', 'hex'), raw, Buffer.from(adler32Hex(raw), 'hex')]);
    const idatCrc = zlib.crc32(Buffer.concat([Buffer.from('IDAT'), idat])).toString(16).padStart(8, '0');
    expect(hex(png)).toBe(
      '89504e470d0a1a0a' +
        '0000000d49484452000000010000000108060000001f15c489' +
        '00000010' + '49444154' + idat.toString('hex') + idatCrc +
        '0000000049454e44ae426082',
    );
    expect(adler32Hex(raw)).toBe('04810180'); // a = 1+0+255+0+0+128 = 384, b = 1+256+256+256+384 = 1153
  });

  test('equal pixels give equal bytes, different pixels different bytes', async () => {
    const image = randomImage(33, 17, 1, true);
    const first = await encodePng(image);
    const second = await encodePng({ ...image, rgba: image.rgba.slice() });
    expect(hex(second)).toBe(hex(first));
    const changed = image.rgba.slice();
    changed[100] ^= 1;
    expect(hex(await encodePng({ ...image, rgba: changed }))).not.toBe(hex(first));
  });

  test('node:zlib inflates the IDAT to filter-0 rows of the pixels', async () => {
    const image = randomImage(5, 3, 2, false);
    const png = await encodePng(image);
    const idatLength = new DataView(png.buffer).getUint32(33);
    const raw = zlib.inflateSync(png.subarray(41, 41 + idatLength));
    expect(raw.length).toBe(3 * (1 + 5 * 4));
    for (let y = 0; y < 3; y++) {
      expect(raw[y * 21]).toBe(0);
      expect([...raw.subarray(y * 21 + 1, (y + 1) * 21)]).toEqual([...image.rgba.subarray(y * 20, (y + 1) * 20)]);
    }
  });

  test('rejects an image whose buffer does not match its size', async () => {
    await expect(encodePng({ width: 2, height: 2, rgba: new Uint8ClampedArray(12) })).rejects.toThrow(/expected 16/);
    await expect(encodePng({ width: 0, height: 2, rgba: new Uint8ClampedArray(0) })).rejects.toThrow(/image size 0 x 2/);
  });
});

function adler32Hex(bytes: Uint8Array): string {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b * 65536 + a) >>> 0).toString(16).padStart(8, '0');
}

describe('decodePng', () => {
  test.each([
    [1, 1, true],
    [7, 5, false],
    [300, 3, true],
    [200, 120, false], // more than one stored block
  ])('round trip %i x %i (opaque %s), deflate and store', async (width, height, opaque) => {
    const image = randomImage(width, height, width * 1000 + height, opaque);
    for (const compression of ['deflate', 'store'] as const) {
      const back = await decodePng(await encodePng(image, { compression }));
      expect(back.width).toBe(width);
      expect(back.height).toBe(height);
      expect(back.rgba).toEqual(image.rgba);
    }
  });

  test('undoes Sub, Up, Average and Paeth filters written by the test (RGB and RGBA)', async () => {
    for (const channels of [3, 4]) {
      const width = 6;
      const height = 5;
      const random = new SeededRandom(40 + channels);
      const pixels = new Uint8Array(width * height * channels).map(() => random.nextUint32() & 0xff);
      const rowBytes = width * channels;
      const rows: number[] = [];
      const at = (x: number, y: number): number => (x < 0 || y < 0 ? 0 : pixels[y * rowBytes + x]);
      for (let y = 0; y < height; y++) {
        const filter = [1, 2, 3, 4, 0][y];
        rows.push(filter);
        for (let i = 0; i < rowBytes; i++) {
          const a = at(i - channels, y);
          const b = at(i, y - 1);
          const c = at(i - channels, y - 1);
          const p = a + b - c;
          const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
          const prediction = [0, a, b, Math.floor((a + b) / 2), paeth][filter];
          rows.push((pixels[y * rowBytes + i] - prediction + 256) % 256);
        }
      }
      const png = buildPng([
        ['IHDR', ihdr(width, height, 8, channels === 3 ? 2 : 6)],
        ['tEXt', new TextEncoder().encode('Comment\0ancillary chunks are skipped')],
        ['IDAT', new Uint8Array(zlib.deflateSync(Buffer.from(rows)).subarray(0, 10))],
        ['IDAT', new Uint8Array(zlib.deflateSync(Buffer.from(rows)).subarray(10))],
        ['IEND', new Uint8Array(0)],
      ]);
      const image = await decodePng(png);
      for (let p = 0; p < width * height; p++) {
        expect([...image.rgba.subarray(4 * p, 4 * p + 4)]).toEqual([
          pixels[p * channels],
          pixels[p * channels + 1],
          pixels[p * channels + 2],
          channels === 4 ? pixels[p * channels + 3] : 255,
        ]);
      }
    }
  });

  const rows = (width: number, height: number, filter = 0): Uint8Array =>
    new Uint8Array(zlib.deflateSync(Buffer.alloc(height * (1 + width * 4), 0).fill(filter, 0, 1)));
  const end: [string, Uint8Array] = ['IEND', new Uint8Array(0)];

  test.each([
    ['not a PNG', () => new TextEncoder().encode('GIF89a...'), 'signature'],
    ['a flipped data byte', () => flip(buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)], end]), 45), 'IDAT'],
    ['a truncated file', () => buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)], end]).subarray(0, 50), 'IDAT'],
    ['no IEND', () => buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)]]), 'IEND'],
    ['bytes after IEND', () => concat(buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)], end]), new Uint8Array(3)), 'IEND'],
    ['IDAT before IHDR', () => buildPng([['IDAT', rows(2, 2)], ['IHDR', ihdr(2, 2)], end]), 'IHDR'],
    ['16-bit samples', () => buildPng([['IHDR', ihdr(2, 2, 16)], ['IDAT', rows(2, 2)], end]), 'IHDR bit depth'],
    ['a palette image', () => buildPng([['IHDR', ihdr(2, 2, 8, 3)], ['IDAT', rows(2, 2)], end]), 'IHDR colour type'],
    ['interlacing', () => buildPng([['IHDR', ihdr(2, 2, 8, 6, 1)], ['IDAT', rows(2, 2)], end]), 'IHDR interlace method'],
    ['a zero width', () => buildPng([['IHDR', ihdr(0, 2)], ['IDAT', rows(2, 2)], end]), 'IHDR width'],
    ['a huge header', () => buildPng([['IHDR', ihdr(30000, 30000)], ['IDAT', rows(2, 2)], end]), 'IHDR'],
    ['too little image data', () => buildPng([['IHDR', ihdr(3, 2)], ['IDAT', rows(2, 2)], end]), 'IDAT'],
    ['data that does not inflate', () => buildPng([['IHDR', ihdr(2, 2)], ['IDAT', new Uint8Array([0x78, 0x9c, 0xff, 0xff, 1, 2])], end]), 'IDAT'],
    ['filter type 5', () => buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2, 5)], end]), 'IDAT'],
    ['split IDATs', () => buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)], ['tEXt', new Uint8Array(1)], ['IDAT', new Uint8Array(0)], end]), 'IDAT'],
    ['an unknown critical chunk', () => buildPng([['IHDR', ihdr(2, 2)], ['ABCD', new Uint8Array(0)], ['IDAT', rows(2, 2)], end]), 'ABCD'],
  ])('rejects %s with a FormatError naming the field', async (_, make, field) => {
    await expect(decodePng(make(), 'x.png')).rejects.toMatchObject({ name: 'FormatError', file: 'x.png', field });
  });

  test('the valid base of those cases decodes (so each rejection is caused by its defect)', async () => {
    const image = await decodePng(buildPng([['IHDR', ihdr(2, 2)], ['IDAT', rows(2, 2)], end]));
    expect(image.rgba).toEqual(new Uint8ClampedArray(16));
  });
});

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0x40;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
