/**
 * TensorProto <-> typed arrays. raw_data is little-endian fixed width (onnx.proto); typed fields
 * (float_data, int32_data, ...) are converted element by element. Results are fresh, aligned
 * arrays (raw_data views from the decoder can start at any byte offset). Assumes a
 * little-endian host, as every WebGPU/wasm platform is.
 */
import { FormatError } from '../../util/errors.ts';
import { bfloat16BitsToFloat32, halfBitsToFloat32 } from '../../util/half.ts';
import { dataTypeInfo, dataTypeName, elementCount } from './data-types.ts';
import { DataLocation, TensorDataType, type TensorProto } from './types.ts';

export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** The array type for each data type. FLOAT16 and BFLOAT16 are raw bits in a Uint16Array; BOOL is 0/1 in a Uint8Array. */
const arrayTypes: Record<number, new (buffer: ArrayBuffer) => TensorArray> = {
  [TensorDataType.FLOAT]: Float32Array,
  [TensorDataType.UINT8]: Uint8Array,
  [TensorDataType.INT8]: Int8Array,
  [TensorDataType.UINT16]: Uint16Array,
  [TensorDataType.INT16]: Int16Array,
  [TensorDataType.INT32]: Int32Array,
  [TensorDataType.INT64]: BigInt64Array,
  [TensorDataType.BOOL]: Uint8Array,
  [TensorDataType.FLOAT16]: Uint16Array,
  [TensorDataType.DOUBLE]: Float64Array,
  [TensorDataType.UINT32]: Uint32Array,
  [TensorDataType.UINT64]: BigUint64Array,
  [TensorDataType.BFLOAT16]: Uint16Array,
};

function describe(tensor: TensorProto): string {
  return tensor.name ? `tensor "${tensor.name}"` : 'tensor';
}

export function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === DataLocation.EXTERNAL;
}

/** Element count of the tensor's dims. */
export function tensorElementCount(tensor: TensorProto, file = 'tensor'): number {
  const count = elementCount(tensor.dims ?? []);
  if (count === undefined) throw new FormatError(file, describe(tensor), 'more than 2^53 elements');
  return count;
}

/** Size of the tensor's data in raw (little-endian, fixed width) form. */
export function tensorByteLength(tensor: TensorProto, file = 'tensor'): number {
  const info = dataTypeInfo(tensor.dataType);
  if (info === undefined) throw new FormatError(file, `${describe(tensor)}.data_type`, `unsupported ${dataTypeName(tensor.dataType)}`);
  return tensorElementCount(tensor, file) * info.bytes;
}

/**
 * The tensor's data as raw little-endian bytes: raw_data itself (a view, not a copy) or the typed
 * field serialized. External tensors must be resolved first (external-data.ts).
 */
export function tensorRawBytes(tensor: TensorProto, file = 'tensor'): Uint8Array {
  if (isExternal(tensor))
    throw new FormatError(file, describe(tensor), 'data is in an external file; resolve it with readExternalTensor first');
  const byteLength = tensorByteLength(tensor, file);
  const count = tensorElementCount(tensor, file);
  if (tensor.rawData !== undefined) {
    if (tensor.rawData.byteLength !== byteLength)
      throw new FormatError(file, `${describe(tensor)}.raw_data`, `${tensor.rawData.byteLength} bytes, expected ${byteLength}`);
    return tensor.rawData;
  }
  const field = dataTypeInfo(tensor.dataType)!.field;
  const values = tensor[field] ?? [];
  if (values.length !== count) {
    if (values.length === 0 && count > 0) throw new FormatError(file, describe(tensor), `has no data for ${count} elements`);
    throw new FormatError(file, `${describe(tensor)}.${field}`, `${values.length} values, expected ${count}`);
  }
  const out = new arrayTypes[tensor.dataType](new ArrayBuffer(byteLength));
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) out[i] = BigInt(values[i]);
  } else {
    // Typed assignment wraps integers to the element width, as the ONNX spec stores narrow types in int32.
    out.set(values);
  }
  return new Uint8Array(out.buffer);
}

/**
 * A fresh typed array holding the tensor's elements (see arrayTypes for which array each type gets).
 */
export function tensorToArray(tensor: TensorProto, file = 'tensor'): TensorArray {
  const raw = tensorRawBytes(tensor, file);
  const copy = raw.slice().buffer;
  return new arrayTypes[tensor.dataType](copy);
}

/** The tensor's elements widened or narrowed to float32 (FLOAT, FLOAT16, BFLOAT16, DOUBLE). */
export function tensorToFloat32(tensor: TensorProto, file = 'tensor'): Float32Array {
  const array = tensorToArray(tensor, file);
  switch (tensor.dataType) {
    case TensorDataType.FLOAT:
      return array as Float32Array;
    case TensorDataType.DOUBLE:
      return Float32Array.from(array as Float64Array);
    case TensorDataType.FLOAT16:
      return Float32Array.from(array as Uint16Array, halfBitsToFloat32);
    case TensorDataType.BFLOAT16:
      return Float32Array.from(array as Uint16Array, bfloat16BitsToFloat32);
    default:
      throw new FormatError(file, `${describe(tensor)}.data_type`, `${dataTypeName(tensor.dataType)} is not a floating-point type`);
  }
}

/** The data type an array stands for by default (Uint16Array means UINT16; pass FLOAT16/BFLOAT16 explicitly). */
function defaultDataType(data: TensorArray): number {
  if (data instanceof Float32Array) return TensorDataType.FLOAT;
  if (data instanceof Float64Array) return TensorDataType.DOUBLE;
  if (data instanceof Int8Array) return TensorDataType.INT8;
  if (data instanceof Uint8Array) return TensorDataType.UINT8;
  if (data instanceof Int16Array) return TensorDataType.INT16;
  if (data instanceof Uint16Array) return TensorDataType.UINT16;
  if (data instanceof Int32Array) return TensorDataType.INT32;
  if (data instanceof Uint32Array) return TensorDataType.UINT32;
  if (data instanceof BigInt64Array) return TensorDataType.INT64;
  return TensorDataType.UINT64;
}

/**
 * A TensorProto holding a copy of `data` in raw_data. `dataType` defaults from the array type;
 * it must have the same element width (e.g. FLOAT16 or BFLOAT16 for a Uint16Array of bits).
 */
export function tensorFromArray(name: string, dims: readonly number[], data: TensorArray, dataType = defaultDataType(data)): TensorProto {
  const info = dataTypeInfo(dataType);
  if (info === undefined) throw new FormatError(name, 'data_type', `unsupported ${dataTypeName(dataType)}`);
  if (info.bytes !== data.BYTES_PER_ELEMENT)
    throw new FormatError(name, 'data_type', `${info.name} has ${info.bytes}-byte elements, the array ${data.BYTES_PER_ELEMENT}-byte`);
  for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(name, 'dims', `[${dims.join(', ')}] is not a shape`);
  const count = elementCount(dims);
  if (count !== data.length) throw new FormatError(name, 'dims', `[${dims.join(', ')}] holds ${count} elements, the array ${data.length}`);
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims: [...dims], dataType, rawData };
}
