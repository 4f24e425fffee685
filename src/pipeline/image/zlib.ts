import { FormatError } from '../../util/errors.ts';

/**
 * zlib streams (RFC 1950) for PNG's IDAT, from the platform's Compression Streams
 * ('deflate' there is zlib-wrapped deflate; Node >= 18 and every current browser have it).
 *
 * 'deflate' output is a pure function of the input for one zlib build (Node uses zlib's
 * default level; Chromium its own zlib), but two runtimes may choose different, equally
 * valid encodings. 'store' writes uncompressed deflate blocks: larger, byte-identical everywhere.
 */
export type ZlibMode = 'deflate' | 'store';

export function hasCompressionStreams(): boolean {
  return typeof CompressionStream === 'function' && typeof DecompressionStream === 'function';
}

export async function zlibCompress(bytes: Uint8Array, mode: ZlibMode): Promise<Uint8Array> {
  if (mode === 'store') return zlibStore(bytes);
  if (typeof CompressionStream !== 'function') {
    throw new Error("zlib: this runtime has no CompressionStream; use mode 'store'");
  }
  return pipe(bytes, new CompressionStream('deflate'));
}

/** Inflates a zlib stream; corrupt data is a FormatError naming `file` and `field`. */
export async function zlibDecompress(bytes: Uint8Array, file: string, field: string): Promise<Uint8Array> {
  if (typeof DecompressionStream !== 'function') throw new Error('zlib: this runtime has no DecompressionStream');
  try {
    return await pipe(bytes, new DecompressionStream('deflate'));
  } catch (error) {
    throw new FormatError(file, field, `zlib data does not inflate (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Largest payload of one stored deflate block (LEN is 16 bits). */
const STORED_BLOCK_BYTES = 65535;

/** A zlib stream of stored (uncompressed) deflate blocks. */
export function zlibStore(bytes: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(bytes.length / STORED_BLOCK_BYTES));
  const out = new Uint8Array(2 + blocks * 5 + bytes.length + 4);
  // CMF 0x78: deflate, 32 KiB window; FLG 0x01: no dictionary, level "fastest", (0x7801 % 31 == 0).
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let block = 0; block < blocks; block++) {
    const start = block * STORED_BLOCK_BYTES;
    const length = Math.min(STORED_BLOCK_BYTES, bytes.length - start);
    out[at] = block === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00
    out[at + 1] = length & 0xff;
    out[at + 2] = length >>> 8;
    out[at + 3] = ~length & 0xff;
    out[at + 4] = (~length >>> 8) & 0xff;
    out.set(bytes.subarray(start, start + length), at + 5);
    at += 5 + length;
  }
  new DataView(out.buffer).setUint32(at, adler32(bytes));
  return out;
}

/** Adler-32 (RFC 1950), the zlib trailer's checksum. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is zlib's NMAX: the most bytes before b can overflow 2^32 without a modulo.
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // Write and read concurrently: a large input would otherwise stall on backpressure.
  const writing = (async () => {
    await writer.write(new Uint8Array(bytes));
    await writer.close();
  })();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      chunks.push(value);
      total += value.length;
    }
  })();
  await Promise.all([writing, reading]);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
