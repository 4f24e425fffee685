/** The element types Lethe reads and writes in safetensors files; every other dtype is refused. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'I32', 'I64', 'U8'];

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };

export function isSafetensorsDtype(value: string): value is SafetensorsDtype {
  return (SAFETENSORS_DTYPES as readonly string[]).includes(value);
}
