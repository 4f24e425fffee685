/** Constants of the PNG format (ISO/IEC 15948, W3C PNG 3rd edition) that the encoder and decoder share. */

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** IHDR colour types Lethe reads and writes (8 bits per sample). */
export const COLOR_TYPE_RGB = 2;
export const COLOR_TYPE_RGBA = 6;

/** PNG's limit on chunk lengths and image dimensions: 2^31 - 1. */
export const PNG_MAX_UINT = 0x7fffffff;

export function chunkTypeBytes(type: string): Uint8Array {
  return new Uint8Array([type.charCodeAt(0), type.charCodeAt(1), type.charCodeAt(2), type.charCodeAt(3)]);
}
