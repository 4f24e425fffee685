export { crc32 } from './crc32.ts';
export { decodePng } from './png-decode.ts';
export { encodePng, type PngEncodeOptions } from './png-encode.ts';
export { checkRgbImage, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, type RgbImage } from './rgb-image.ts';
export { toByte, vaeOutputToImage } from './vae-output.ts';
export { adler32, zlibCompress, zlibDecompress, zlibStore, type ZlibMode } from './zlib.ts';
