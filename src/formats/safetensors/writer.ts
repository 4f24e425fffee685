import { InputError, ShapeError } from '../../util/errors.ts';
import { toHalf } from '../../util/half.ts';
import { float32ToBfloat16Bits } from './bfloat16.ts';
import { DTYPE_BYTES, SAFETENSORS_DTYPES, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.ts';

/**
 * A tensor to write. The data type must match `dtype`: F32 Float32Array; F16 and BF16 either
 * Uint16Array (raw bits) or Float32Array (converted here, rounding to nearest even);
 * I32 Int32Array; I64 BigInt64Array; U8 Uint8Array.
 */
export interface SafetensorsWriteTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
}

const littleEndianPlatform = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serializes tensors and string metadata into a safetensors file.
 *
 * The header lists tensors in the order given (after `__metadata__`, omitted when empty) and
 * is padded with spaces so the data section starts at a multiple of 8. In the data section
 * tensors are laid out by element size, largest first (stable within a size, like the
 * reference writer), so every tensor starts at a multiple of its element size and readers can
 * view it in place.
 */
export function writeSafetensors(
  tensors: Iterable<readonly [string, SafetensorsWriteTensor]>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const prepared: { name: string; dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  for (const [name, tensor] of tensors) {
    if (typeof name !== 'string') throw new InputError(`writeSafetensors: tensor names must be strings, got ${typeof name}`);
    if (name === '__metadata__') throw new InputError('writeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    if (seen.has(name)) throw new InputError(`writeSafetensors: tensor ${JSON.stringify(name)} given twice`);
    seen.add(name);
    prepared.push({ name, dtype: tensor.dtype, shape: [...tensor.shape], bytes: tensorBytes(name, tensor) });
  }
  for (const [key, value] of Object.entries(metadata))
    if (typeof value !== 'string') throw new InputError(`writeSafetensors: metadata ${JSON.stringify(key)} must be a string, got ${typeof value}`);

  const layout = prepared.map((t, order) => ({ t, order })).sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.order - b.order);
  const offsets = new Map<string, [number, number]>();
  let dataLength = 0;
  for (const { t } of layout) {
    offsets.set(t.name, [dataLength, dataLength + t.bytes.length]);
    dataLength += t.bytes.length;
  }

  const parts: string[] = [];
  if (Object.keys(metadata).length > 0) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  for (const t of prepared)
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: offsets.get(t.name) })}`);
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  for (const { t } of layout) out.set(t.bytes, 8 + headerLength + offsets.get(t.name)![0]);
  return out;
}

function tensorBytes(name: string, tensor: SafetensorsWriteTensor): Uint8Array {
  const { dtype, shape, data } = tensor;
  if (!isSafetensorsDtype(dtype)) throw new InputError(`writeSafetensors: ${JSON.stringify(name)} has dtype ${String(dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new ShapeError(`writeSafetensors: ${JSON.stringify(name)} shape [${String(shape)}] must list non-negative integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new ShapeError(`writeSafetensors: ${JSON.stringify(name)} has ${data.length} elements, shape [${shape.join(', ')}] needs ${count}`);

  const wrongData = (expected: string) =>
    new InputError(`writeSafetensors: ${JSON.stringify(name)} is ${dtype} and needs ${expected}, got ${data.constructor.name}`);
  switch (dtype) {
    case 'F32':
      if (!(data instanceof Float32Array)) throw wrongData('a Float32Array');
      return littleEndian(data, 4);
    case 'F16':
    case 'BF16': {
      if (data instanceof Uint16Array) return littleEndian(data, 2);
      if (!(data instanceof Float32Array)) throw wrongData('a Uint16Array of bits or a Float32Array');
      return littleEndian(dtype === 'F16' ? toHalf(data) : Uint16Array.from(data, float32ToBfloat16Bits), 2);
    }
    case 'I32':
      if (!(data instanceof Int32Array)) throw wrongData('an Int32Array');
      return littleEndian(data, 4);
    case 'I64':
      if (!(data instanceof BigInt64Array)) throw wrongData('a BigInt64Array');
      return littleEndian(data, 8);
    case 'U8':
      if (!(data instanceof Uint8Array)) throw wrongData('a Uint8Array');
      return data;
  }
}

/** The array's bytes in little-endian order (a view on little-endian platforms). */
function littleEndian(data: Float32Array | Uint16Array | Int32Array | BigInt64Array, elementBytes: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndianPlatform) return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += elementBytes) for (let j = 0; j < elementBytes; j++) swapped[i + j] = bytes[i + elementBytes - 1 - j];
  return swapped;
}
