import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeModel, encodeModel } from '../../src/formats/onnx/codec.ts';
import {
  externalDataFromBytes,
  externalDataRef,
  externalizeModel,
  inlineExternalData,
  readTensorData,
  type ExternalDataFile,
} from '../../src/formats/onnx/external-data.ts';
import { tensorFromArray, tensorRawBytes, tensorToArray, tensorToFloat32 } from '../../src/formats/onnx/tensor.ts';
import { DataLocation, TensorDataType, type TensorProto } from '../../src/formats/onnx/types.ts';
import { FormatError } from '../../src/util/errors.ts';
import { float32ToHalfBits } from '../../src/util/half.ts';
import { M, K, N, maxAbsDiff, randomFloats, smallModel, smallModelReference } from './onnx-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'lethe-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function concatChunks(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A data file read through a node file handle, range by range, as a multi-GB file would be. */
async function openFile(path: string): Promise<ExternalDataFile & { reads: number }> {
  const handle = await open(path, 'r');
  const file = {
    size: statSync(path).size,
    reads: 0,
    async read(offset: number, length: number) {
      file.reads++;
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    },
  };
  return file;
}

function expectFormatError(run: () => unknown, field: RegExp): void {
  expect(run).toThrow(FormatError);
  try {
    run();
  } catch (e) {
    expect((e as FormatError).field).toMatch(field);
  }
}

describe('ONNX tensors as typed arrays', () => {
  test('raw and typed fields of every numeric type give the same elements', () => {
    const cases: [TensorProto, ArrayLike<number | bigint>][] = [
      [{ dims: [2], dataType: TensorDataType.FLOAT, floatData: [1.5, -2] }, [1.5, -2]],
      [{ dims: [3], dataType: TensorDataType.INT64, int64Data: [-1, 2 ** 40, 0] }, [-1n, 2n ** 40n, 0n]],
      [{ dims: [2], dataType: TensorDataType.INT32, int32Data: [-5, 7] }, [-5, 7]],
      [{ dims: [2], dataType: TensorDataType.INT8, int32Data: [-128, 127] }, [-128, 127]],
      [{ dims: [2], dataType: TensorDataType.UINT8, int32Data: [0, 255] }, [0, 255]],
      [{ dims: [2], dataType: TensorDataType.BOOL, int32Data: [1, 0] }, [1, 0]],
      [{ dims: [2], dataType: TensorDataType.FLOAT16, int32Data: [0x3c00, 0xc000] }, [0x3c00, 0xc000]],
      [{ dims: [1], dataType: TensorDataType.DOUBLE, doubleData: [Math.PI] }, [Math.PI]],
      [{ dims: [2], dataType: TensorDataType.UINT32, uint64Data: [4294967295, 1] }, [4294967295, 1]],
      [{ dims: [1], dataType: TensorDataType.UINT64, uint64Data: [2 ** 52 + 1] }, [2n ** 52n + 1n]],
    ];
    for (const [tensor, expected] of cases) {
      const array = tensorToArray(tensor);
      expect(Array.from(array as ArrayLike<number | bigint>)).toEqual(Array.from(expected));
      // Back through raw_data: same bytes, same elements.
      const raw = tensorFromArray('t', tensor.dims!, array, tensor.dataType);
      expect(raw.rawData).toEqual(tensorRawBytes(tensor));
      expect(tensorToArray(raw)).toEqual(array);
    }
  });

  test('raw_data at an odd byte offset still gives an aligned Float32Array; float16 widens', () => {
    const values = new Float32Array([1, -2.5, 3e-3]);
    const backing = new Uint8Array(1 + values.byteLength);
    backing.set(new Uint8Array(values.buffer), 1);
    const tensor: TensorProto = { dims: [3], dataType: TensorDataType.FLOAT, rawData: backing.subarray(1) };
    expect(tensorToFloat32(tensor)).toEqual(values);
    const half = tensorFromArray('h', [3], Uint16Array.from(values, float32ToHalfBits), TensorDataType.FLOAT16);
    expect(maxAbsDiff(tensorToFloat32(half), values)).toBeLessThan(2e-3);
    expect(() => tensorFromArray('x', [2, 2], new Float32Array(3))).toThrow(FormatError);
    expect(() => tensorFromArray('x', [3], new Uint16Array(3), TensorDataType.FLOAT)).toThrow(FormatError);
    expect(() => tensorToFloat32({ dims: [1], dataType: TensorDataType.INT32, int32Data: [1] })).toThrow(FormatError);
    expect(() => tensorToArray({ dims: [2], dataType: TensorDataType.FLOAT, floatData: [1] })).toThrow(FormatError);
  });
});

describe('ONNX external data', () => {
  test('externalized model + data file load in onnxruntime-node and round-trip through our reader', async () => {
    const small = smallModel(3);
    const { model, chunks, dataSize } = externalizeModel(small.model, { location: 'model.onnx_data', threshold: 16, alignment: 64 });
    const moved = model.graph.initializer.filter((t) => t.dataLocation === DataLocation.EXTERNAL);
    // W (80 B), V (80 B), and the two [N] vectors (16 B) all reach the 16-byte threshold.
    expect(moved.map((t) => t.name)).toEqual(['onnx::MatMul_7', 'bias', 'gemm.weight', 'gemm.bias']);
    for (const t of moved) expect(externalDataRef(t, 'model.onnx')!.offset % 64).toBe(0);
    const data = concatChunks(chunks);
    expect(data.byteLength).toBe(dataSize);

    const modelPath = join(dir, 'model.onnx');
    writeFileSync(modelPath, encodeModel(model));
    writeFileSync(join(dir, 'model.onnx_data'), data);
    const session = await ort.InferenceSession.create(modelPath);
    const x = randomFloats(M * K, 5);
    const out = await session.run({ x: new ort.Tensor('float32', x, [M, K]) });
    expect(maxAbsDiff(out.y.data as Float32Array, smallModelReference(small, x).y)).toBeLessThan(1e-6);

    // Our reader: each tensor read by range from the file, bytes equal to the originals.
    const decoded = decodeModel(readFileSync(modelPath), 'model.onnx');
    const file = await openFile(join(dir, 'model.onnx_data'));
    const w = await readTensorData(decoded.graph.initializer[0], 'model.onnx', () => file);
    expect(new Float32Array(w.slice().buffer)).toEqual(small.W);
    const inlined = await inlineExternalData(decoded, 'model.onnx', () => file);
    expect(file.reads).toBe(5);
    expect(tensorToFloat32(inlined.graph.initializer[1])).toEqual(small.b);
    // The inlined model runs from bytes alone.
    const session2 = await ort.InferenceSession.create(encodeModel(inlined));
    const out2 = await session2.run({ x: new ort.Tensor('float32', x, [M, K]) });
    expect(out2.y.data).toEqual(out.y.data);
  });

  test('default alignment is 4096 and small tensors stay inline', () => {
    const { model, chunks, dataSize } = externalizeModel(smallModel().model, { location: 'model.onnx_data', threshold: 64 });
    const refs = model.graph.initializer.map((t) => externalDataRef(t, 'm'));
    expect(refs.map((r) => r?.offset)).toEqual([0, undefined, 4096, undefined]);
    expect(dataSize).toBe(4096 + K * N * 4);
    expect(chunks.map((c) => c.byteLength)).toEqual([K * N * 4, 4096 - K * N * 4, K * N * 4]);
  });

  test('offsets, lengths and locations are never trusted', async () => {
    const tensor = (entries: Record<string, string>, dims = [4]): TensorProto => ({
      name: 'w',
      dims,
      dataType: TensorDataType.FLOAT,
      dataLocation: DataLocation.EXTERNAL,
      externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
    });
    const data = externalDataFromBytes(new Uint8Array(32));
    const read = (t: TensorProto) => readTensorData(t, 'bad.onnx', () => data);
    await expect(read(tensor({ location: 'd', offset: '16' }))).resolves.toHaveLength(16);
    const hostile: Record<string, string>[] = [
      { location: 'd', offset: '17' }, // runs past the end
      { location: 'd', offset: '9007199254740992' }, // beyond 2^53
      { location: 'd', offset: '99999999999999999999' },
      { location: 'd', offset: '-4' },
      { location: 'd', offset: '1e3' },
      { location: 'd', offset: '0', length: '12' }, // disagrees with dims
      { location: '../secret', offset: '0' },
      { location: '/etc/passwd' },
      { location: 'a//b' },
      { location: 'C:\\x' },
      { offset: '0' },
    ];
    for (const entries of hostile) {
      const error = await read(tensor(entries)).catch((e: unknown) => e);
      expect(error, JSON.stringify(entries)).toBeInstanceOf(FormatError);
      expect((error as FormatError).file).toBe('bad.onnx');
    }
    const dup = tensor({ location: 'd' });
    dup.externalData!.push({ key: 'location', value: 'e' });
    await expect(read(dup)).rejects.toThrow(/duplicate/);
    // A reader returning fewer bytes than asked is caught too.
    const short: ExternalDataFile = { size: 32, read: async () => new Uint8Array(3) };
    await expect(readTensorData(tensor({ location: 'd' }), 'bad.onnx', () => short)).rejects.toThrow(FormatError);
    expectFormatError(() => tensorRawBytes(tensor({ location: 'd' }), 'bad.onnx'), /w/);
  });
});
