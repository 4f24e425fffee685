/**
 * Byte-level BPE symbols (GPT-2 / CLIP): every byte 0..255 gets one printable character, so
 * BPE merges work on strings and never see whitespace or control characters. Printable
 * Latin-1 bytes stand for themselves; the other 68 bytes borrow U+0100 onwards, in byte order.
 */

function isPrintableLatin1(byte: number): boolean {
  return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
}

function buildTables(): { symbolOfByte: string[]; vocabOrder: number[] } {
  const symbolOfByte = new Array<string>(256);
  const vocabOrder: number[] = [];
  let borrowed = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (isPrintableLatin1(byte)) {
      symbolOfByte[byte] = String.fromCharCode(byte);
      vocabOrder.push(byte);
    }
  }
  for (let byte = 0; byte < 256; byte++) {
    if (!isPrintableLatin1(byte)) {
      symbolOfByte[byte] = String.fromCharCode(0x100 + borrowed++);
      vocabOrder.push(byte);
    }
  }
  return { symbolOfByte, vocabOrder };
}

const tables = buildTables();
const byteOfSymbol = new Map(tables.symbolOfByte.map((symbol, byte) => [symbol, byte]));

/**
 * The 256 symbols in the order CLIP's vocab.json lists them (ids 0..255): printable bytes
 * first, then the borrowed ones. The same symbols with `</w>` follow as ids 256..511.
 */
export const BYTE_SYMBOLS_IN_VOCAB_ORDER: readonly string[] = tables.vocabOrder.map((byte) => tables.symbolOfByte[byte]);

/**
 * Bytes of a string of symbols, or null if it holds a character that is not a byte symbol
 * (special tokens such as `<|endoftext|>` are made of printable ASCII, so they decode too).
 */
export function byteSymbolsToBytes(symbols: string): Uint8Array | null {
  const bytes = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const byte = byteOfSymbol.get(symbols[i]);
    if (byte === undefined) return null;
    bytes[i] = byte;
  }
  return bytes;
}
