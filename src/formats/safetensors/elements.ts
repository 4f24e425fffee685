import { FormatError } from '../../util/errors.ts';
import { bfloat16BitsToFloat32, halfBitsToFloat32 } from '../../util/half.ts';
import type { SafetensorsDtype } from './dtypes.ts';

/** What the element readers need of a tensor: its name (for errors), dtype and little-endian bytes. */
export interface TensorBytes {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly data: Uint8Array;
}

const littleEndianPlatform = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A new Float32Array with the values of an F32, F16 or BF16 tensor. */
export function tensorToFloat32(tensor: TensorBytes, file: string): Float32Array {
  const { data, dtype } = tensor;
  if (dtype === 'F32') {
    if (littleEndianPlatform) return new Float32Array(alignedCopy(data, 4));
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return Float32Array.from({ length: data.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  }
  if (dtype === 'F16' || dtype === 'BF16') {
    const bits = uint16Values(data);
    const out = new Float32Array(bits.length);
    const convert = dtype === 'F16' ? halfBitsToFloat32 : bfloat16BitsToFloat32;
    for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]);
    return out;
  }
  throw new FormatError(file, `${JSON.stringify(tensor.name)}.dtype`, `expected a float dtype (F32, F16, BF16), got ${dtype}`);
}

/** A new Int32Array with the values of an I32 tensor. */
export function tensorToInt32(tensor: TensorBytes, file: string): Int32Array {
  requireDtype(tensor, 'I32', file);
  if (littleEndianPlatform) return new Int32Array(alignedCopy(tensor.data, 4));
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Int32Array.from({ length: tensor.data.byteLength / 4 }, (_, i) => view.getInt32(i * 4, true));
}

/** A new BigInt64Array with the values of an I64 tensor. */
export function tensorToBigInt64(tensor: TensorBytes, file: string): BigInt64Array {
  requireDtype(tensor, 'I64', file);
  if (littleEndianPlatform) return new BigInt64Array(alignedCopy(tensor.data, 8));
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return BigInt64Array.from({ length: tensor.data.byteLength / 8 }, (_, i) => view.getBigInt64(i * 8, true));
}

function requireDtype(tensor: TensorBytes, dtype: SafetensorsDtype, file: string): void {
  if (tensor.dtype !== dtype) throw new FormatError(file, `${JSON.stringify(tensor.name)}.dtype`, `expected ${dtype}, got ${tensor.dtype}`);
}

function uint16Values(data: Uint8Array): Uint16Array {
  if (littleEndianPlatform) return new Uint16Array(alignedCopy(data, 2));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Uint16Array.from({ length: data.byteLength / 2 }, (_, i) => view.getUint16(i * 2, true));
}

/** The bytes in a fresh ArrayBuffer (always aligned), truncated to whole elements. */
function alignedCopy(data: Uint8Array, elementBytes: number): ArrayBuffer {
  const length = data.byteLength - (data.byteLength % elementBytes);
  return data.buffer.slice(data.byteOffset, data.byteOffset + length) as ArrayBuffer;
}
