/**
 * ONNX messages as plain objects, field names as protobufjs gives them (camelCase of onnx.proto).
 * int64 fields are JS numbers (every value Lethe meets fits in 2^53; the decoder rejects those
 * that do not). bytes fields are Uint8Array. Only the parts of onnx.proto that SD exports use.
 */

export const TensorDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type TensorDataType = (typeof TensorDataType)[keyof typeof TensorDataType];

export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;
export type AttributeType = (typeof AttributeType)[keyof typeof AttributeType];

export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;
export type DataLocation = (typeof DataLocation)[keyof typeof DataLocation];

export interface StringStringEntry {
  key: string;
  value: string;
}

export interface OperatorSetId {
  domain?: string;
  version: number;
}

export interface TensorProto {
  name?: string;
  dims?: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  /** UINT32 and UINT64 values (typed field 11); UINT64 values beyond 2^53 are rejected. */
  uint64Data?: number[];
  externalData?: StringStringEntry[];
  dataLocation?: number;
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  docString?: string;
}

export interface NodeProto {
  name?: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
  docString?: string;
}

export interface TensorShapeDimension {
  dimValue?: number;
  dimParam?: string;
}

export interface TypeProto {
  tensorType?: {
    elemType: number;
    shape?: { dim: TensorShapeDimension[] };
  };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString?: string;
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps?: StringStringEntry[];
}
