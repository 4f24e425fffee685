/**
 * The subset of onnx.proto (package onnx, proto2) that Lethe reads and writes, as a protobufjs
 * JSON descriptor so the browser bundle needs `protobufjs/light` only (no .proto parser).
 *
 * Field numbers are those of onnx/onnx.proto. Fields left out (training_info, functions,
 * sparse_initializer, quantization_annotation, string_data, segment, metadata_props of nodes
 * and tensors, ...) are unknown to this schema: protobufjs skips them on decode by wire type, and
 * encode does not write them back. Enums are declared as int32 (same varint on the wire) so that
 * decoded values stay numbers and unknown enum values survive.
 *
 * proto2 repeated scalars are unpacked unless onnx.proto says `[packed = true]`; we follow that
 * on encode. protobufjs accepts both layouts on decode, as protobuf requires.
 */
import protobuf from 'protobufjs/light.js';

const packed = { packed: true } as const;

export const onnxDescriptor = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: packed },
            int32Data: { rule: 'repeated', type: 'int32', id: 5, options: packed },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: packed },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: { rule: 'repeated', type: 'double', id: 10, options: packed },
            uint64Data: { rule: 'repeated', type: 'uint64', id: 11, options: packed },
            docString: { type: 'string', id: 12 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
            graphs: { rule: 'repeated', type: 'GraphProto', id: 11 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
              },
            },
          },
        },
        TypeProto: {
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto, built once from the descriptor. */
export function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(onnxDescriptor).lookupType('onnx.ModelProto');
  return modelType;
}
