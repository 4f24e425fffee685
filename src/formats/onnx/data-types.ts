/** What each supported ONNX tensor data type looks like in raw_data and in the typed fields. */
import { TensorDataType } from './types.ts';

export type TypedField = 'floatData' | 'int32Data' | 'int64Data' | 'doubleData' | 'uint64Data';

interface DataTypeInfo {
  name: string;
  /** Bytes per element in raw_data (little-endian, fixed width). */
  bytes: number;
  /** The typed field onnx.proto assigns to this type when raw_data is not used. */
  field: TypedField;
}

const info: Record<number, DataTypeInfo> = {
  [TensorDataType.FLOAT]: { name: 'FLOAT', bytes: 4, field: 'floatData' },
  [TensorDataType.UINT8]: { name: 'UINT8', bytes: 1, field: 'int32Data' },
  [TensorDataType.INT8]: { name: 'INT8', bytes: 1, field: 'int32Data' },
  [TensorDataType.UINT16]: { name: 'UINT16', bytes: 2, field: 'int32Data' },
  [TensorDataType.INT16]: { name: 'INT16', bytes: 2, field: 'int32Data' },
  [TensorDataType.INT32]: { name: 'INT32', bytes: 4, field: 'int32Data' },
  [TensorDataType.INT64]: { name: 'INT64', bytes: 8, field: 'int64Data' },
  [TensorDataType.BOOL]: { name: 'BOOL', bytes: 1, field: 'int32Data' },
  [TensorDataType.FLOAT16]: { name: 'FLOAT16', bytes: 2, field: 'int32Data' },
  [TensorDataType.DOUBLE]: { name: 'DOUBLE', bytes: 8, field: 'doubleData' },
  [TensorDataType.UINT32]: { name: 'UINT32', bytes: 4, field: 'uint64Data' },
  [TensorDataType.UINT64]: { name: 'UINT64', bytes: 8, field: 'uint64Data' },
  [TensorDataType.BFLOAT16]: { name: 'BFLOAT16', bytes: 2, field: 'int32Data' },
};

/** Layout of a supported numeric data type, or undefined (STRING, complex, float8, unknown). */
export function dataTypeInfo(dataType: number): DataTypeInfo | undefined {
  return Object.prototype.hasOwnProperty.call(info, dataType) ? info[dataType] : undefined;
}

export function dataTypeName(dataType: number): string {
  return dataTypeInfo(dataType)?.name ?? (dataType === TensorDataType.STRING ? 'STRING' : `#${dataType}`);
}

/** Number of elements of a tensor with these dims; undefined when it exceeds 2^53. */
export function elementCount(dims: readonly number[]): number | undefined {
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}
