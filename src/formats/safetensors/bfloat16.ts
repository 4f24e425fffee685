const floatView = new Float32Array(1);
const intView = new Uint32Array(floatView.buffer);

/** float32 to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
export function float32ToBfloat16Bits(value: number): number {
  floatView[0] = value;
  const x = intView[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) / 0x10000) & 0xffff;
}
