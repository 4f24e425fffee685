import Long from 'long';
import protobuf from 'protobufjs/light.js';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { decodeModel, encodeModel } from '../../src/formats/onnx/codec.ts';
import { onnxDescriptor, onnxModelType } from '../../src/formats/onnx/schema.ts';
import { validateModel } from '../../src/formats/onnx/validate.ts';
import { TensorDataType, type ModelProto } from '../../src/formats/onnx/types.ts';
import { FormatError } from '../../src/util/errors.ts';
import { M, N, K, everyFieldModel, maxAbsDiff, randomFloats, smallModel, smallModelReference } from './onnx-fixtures.ts';

function expectFormatError(run: () => unknown, field: RegExp | string): FormatError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    const e = error as FormatError;
    expect(e.file).toBe('bad.onnx');
    expect(e.field).toMatch(field);
    return e;
  }
  throw new Error('expected a FormatError');
}

/** A length-delimited field (wire type 2) holding `payload`, as protobuf writes it. */
function lengthDelimited(fieldNumber: number, payload: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32((fieldNumber << 3) | 2).bytes(payload).finish();
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('ONNX codec', () => {
  test('schema field numbers match onnx.proto', () => {
    const ids = (type: string) =>
      Object.fromEntries(
        Object.entries((onnxDescriptor.nested.onnx.nested as Record<string, { fields: Record<string, { id: number }> }>)[type].fields).map(
          ([k, v]) => [k, v.id],
        ),
      );
    expect(ids('TensorProto')).toMatchObject({ dims: 1, dataType: 2, rawData: 9, externalData: 13, dataLocation: 14, int64Data: 7, name: 8 });
    expect(ids('ModelProto')).toMatchObject({ irVersion: 1, graph: 7, opsetImport: 8, metadataProps: 14 });
    expect(ids('GraphProto')).toMatchObject({ node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 });
    expect(ids('NodeProto')).toMatchObject({ input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 });
    expect(ids('AttributeProto')).toMatchObject({ f: 2, i: 3, s: 4, t: 5, g: 6, floats: 7, ints: 8, strings: 9, type: 20 });
  });

  test('round trip keeps every field of every attribute and tensor kind', () => {
    const model = everyFieldModel();
    const bytes = encodeModel(model);
    const decoded = decodeModel(bytes, 'every.onnx');
    expect(decoded).toEqual(validateModel(model, 'every.onnx'));
    expect(decoded.graph.node[0].attribute?.find((a) => a.name === 'i')?.i).toBe(-(2 ** 50));
    expect(decoded.graph.initializer[0].int64Data).toEqual([-(2 ** 53 - 1), 0, 2 ** 40 + 3]);
    expect(new TextDecoder().decode(decoded.graph.node[0].attribute?.find((a) => a.name === 's')?.s)).toBe('héllo');
    // Encoding what we decoded gives the same bytes: nothing is lost or reordered.
    expect(encodeModel(decoded)).toEqual(bytes);
    // Validation copies: the caller's model is untouched.
    expect(model).toEqual(everyFieldModel());
  });

  test('bytes fields come back as plain Uint8Array views, also from a Node Buffer', () => {
    const bytes = encodeModel(smallModel().model);
    const decoded = decodeModel(Buffer.from(bytes), 'small.onnx');
    const raw = decoded.graph.initializer[0].rawData!;
    expect(raw.constructor).toBe(Uint8Array);
    expect(raw.byteLength).toBe(K * N * 4);
  });

  test('the encoded model runs in onnxruntime-node and matches a float64 computation', async () => {
    const small = smallModel(7);
    const session = await ort.InferenceSession.create(encodeModel(small.model));
    const x = randomFloats(M * K, 99);
    const out = await session.run({ x: new ort.Tensor('float32', x, [M, K]) });
    const { y } = smallModelReference(small, x);
    expect(out.y.dims).toEqual([M, N]);
    expect(maxAbsDiff(out.y.data as Float32Array, y)).toBeLessThan(1e-6);
    // The reference is not trivially uniform: rows differ from 1/N.
    expect(maxAbsDiff(y, new Float64Array(M * N).fill(1 / N))).toBeGreaterThan(0.05);
  });

  test('unknown fields (training_info, functions, sparse initializers) are skipped', () => {
    const model = smallModel().model;
    const graphType = protobuf.Root.fromJSON(onnxDescriptor).lookupType('onnx.GraphProto');
    const graphBytes = concat(
      graphType.encode(validateModel(model, 'x').graph).finish(),
      lengthDelimited(15, new Uint8Array([0x0a, 0x02, 0x08, 0x01])), // sparse_initializer
      lengthDelimited(14, new Uint8Array([0x0a, 0x01, 0x61])), // quantization_annotation
    );
    const { graph, ...rest } = validateModel(model, 'x');
    const withoutGraph = onnxModelType().encode(rest as unknown as ModelProto).finish();
    const bytes = concat(
      withoutGraph,
      lengthDelimited(20, new Uint8Array([0x0a, 0x00])), // training_info
      lengthDelimited(25, new Uint8Array([0x0a, 0x01, 0x66])), // functions
      lengthDelimited(7, graphBytes),
      // Unknown fields of the other wire types: varint, fixed32, fixed64.
      protobuf.Writer.create().uint32((21 << 3) | 0).uint64(150).uint32((22 << 3) | 5).fixed32(7).uint32((23 << 3) | 1).double(1.5).finish(),
    );
    expect(decodeModel(bytes, 'unknown.onnx')).toEqual(decodeModel(encodeModel(model), 'known.onnx'));
  });

  test('int64 values beyond 2^53 are rejected, not rounded', () => {
    const model = validateModel(smallModel().model, 'x');
    const big = { ...model, irVersion: Long.fromString('9007199254740993') };
    const bytes = onnxModelType().encode(big as unknown as ModelProto).finish();
    expectFormatError(() => decodeModel(bytes, 'bad.onnx'), 'ir_version');
    const dims = structuredClone(model);
    (dims.graph.initializer[1].dims as unknown[]) = [Long.fromString('-9007199254740993')];
    expectFormatError(() => decodeModel(onnxModelType().encode(dims).finish(), 'bad.onnx'), /dims\[0\]/);
  });

  test('structural errors name the field', () => {
    const encodeBad = (edit: (m: ModelProto) => void) => {
      const m = structuredClone(smallModel().model);
      edit(m);
      return () => decodeModel(onnxModelType().encode(m).finish(), 'bad.onnx');
    };
    expectFormatError(encodeBad((m) => delete (m as Partial<ModelProto>).graph), 'graph');
    expectFormatError(encodeBad((m) => (m.opsetImport = [])), 'opset_import');
    expectFormatError(encodeBad((m) => (m.graph.node[1].opType = '')), /node\[1\].*op_type/);
    expectFormatError(encodeBad((m) => (m.graph.initializer[0].dims = [K, -N])), /initializer\[0\].*dims\[1\]/);
    expectFormatError(encodeBad((m) => (m.graph.initializer[0].dims = [K, N + 1])), /raw_data/);
    expectFormatError(encodeBad((m) => (m.graph.initializer[1].floatData = [1])), /floatData/);
    expectFormatError(encodeBad((m) => (m.graph.initializer[1].dataType = TensorDataType.STRING)), /data_type/);
    expectFormatError(encodeBad((m) => (m.graph.initializer[1].name = 'onnx::MatMul_7')), /initializer\[1\]/);
    expectFormatError(encodeBad((m) => (m.graph.node[1].output = ['/attn2/to_k/MatMul_output_0'])), /node\[1\]/);
    expectFormatError(encodeBad((m) => (m.graph.node[2].attribute![0].t = undefined)), /attribute\[0\]\(value\)\.t/);
    expectFormatError(encodeBad((m) => (m.graph.node[4].attribute![0].type = 11)), /attribute\[0\]\(alpha\)\.type/);
    expectFormatError(
      encodeBad((m) => (m.graph.initializer[0] = { ...m.graph.initializer[0], dataLocation: 1, externalData: [] })),
      /external_data/,
    );
    expectFormatError(() => decodeModel(new Uint8Array(0), 'bad.onnx'), 'size');
    // encodeModel validates too, naming the file it is given.
    const m = smallModel().model;
    m.graph.node[0].opType = '';
    expect(() => encodeModel(m, 'bad.onnx')).toThrow(FormatError);
  });

  test('protobuf-level corruption becomes a FormatError naming the file', () => {
    const bytes = encodeModel(smallModel().model);
    expectFormatError(() => decodeModel(bytes.subarray(0, bytes.length - 3), 'bad.onnx'), /protobuf|.*/);
    // A length prefix claiming 2^32-1 bytes.
    expectFormatError(() => decodeModel(new Uint8Array([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 'bad.onnx'), 'protobuf');
    // Wire type 7 does not exist (on an unknown field, which protobufjs must skip by wire type).
    expectFormatError(() => decodeModel(new Uint8Array([(9 << 3) | 7, 0x01]), 'bad.onnx'), 'protobuf');
    // Graphs nested in attributes far deeper than any real model.
    let graph: Uint8Array = new Uint8Array(0);
    for (let depth = 0; depth < 200; depth++) {
      const attribute = concat(lengthDelimited(1, new TextEncoder().encode('g')), new Uint8Array([0xa0, 0x01, 0x05]), lengthDelimited(6, graph));
      const node = concat(lengthDelimited(4, new TextEncoder().encode('If')), lengthDelimited(5, attribute));
      graph = lengthDelimited(1, node);
    }
    const deep = concat(new Uint8Array([0x08, 0x08]), lengthDelimited(8, new Uint8Array([0x10, 0x11])), lengthDelimited(7, graph));
    expectFormatError(() => decodeModel(deep, 'bad.onnx'), /protobuf|\.g/);
  });
});
