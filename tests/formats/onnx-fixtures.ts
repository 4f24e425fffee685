/** Small hand-built ONNX models and their float64 reference computations, for the onnx tests. */
import { SeededRandom } from '../../src/util/random.ts';
import {
  AttributeType,
  TensorDataType,
  type GraphProto,
  type ModelProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../src/formats/onnx/types.ts';

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export function floatInfo(name: string, dims: number[]): ValueInfoProto {
  return { name, type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

export function rawFloat(name: string, dims: number[], values: Float32Array): TensorProto {
  return { name, dims, dataType: TensorDataType.FLOAT, rawData: new Uint8Array(values.buffer.slice(0)) };
}

export function randomFloats(count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: count }, () => rng.normal());
}

/** Dimensions of the MatMul + Add + Softmax model: x[M,K] @ W[K,N] + b[N], and a Gemm branch. */
export const M = 3;
export const K = 5;
export const N = 4;

export interface SmallModel {
  model: ModelProto;
  W: Float32Array; // [K, N], raw_data
  b: Float32Array; // [N], float_data
  V: Float32Array; // [N, K], raw_data, used transposed by Gemm
  c: Float32Array; // [N], raw_data
  scale: number; // Constant node, a TENSOR attribute
}

/**
 * y = Softmax(axis=-1)((x @ W + b) * scale + Gemm(x, V, c; alpha=0.5, beta=2, transB=1))
 * Node names follow the diffusers export style so graph helpers can find them by name.
 */
export function smallModel(seed = 1): SmallModel {
  const W = randomFloats(K * N, seed);
  const b = randomFloats(N, seed + 1);
  const V = randomFloats(N * K, seed + 2);
  const c = randomFloats(N, seed + 3);
  const scale = 0.75;
  const graph: GraphProto = {
    name: 'small',
    node: [
      { name: '/attn2/to_k/MatMul', opType: 'MatMul', input: ['x', 'onnx::MatMul_7'], output: ['/attn2/to_k/MatMul_output_0'] },
      { name: '/attn2/Add', opType: 'Add', input: ['/attn2/to_k/MatMul_output_0', 'bias'], output: ['/attn2/Add_output_0'] },
      {
        name: '/attn2/Constant',
        opType: 'Constant',
        input: [],
        output: ['/attn2/Constant_output_0'],
        attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [], dataType: TensorDataType.FLOAT, floatData: [scale] } }],
      },
      { name: '/attn2/Mul', opType: 'Mul', input: ['/attn2/Add_output_0', '/attn2/Constant_output_0'], output: ['/attn2/Mul_output_0'] },
      {
        name: '/attn2/Gemm',
        opType: 'Gemm',
        input: ['x', 'gemm.weight', 'gemm.bias'],
        output: ['/attn2/Gemm_output_0'],
        attribute: [
          { name: 'alpha', type: AttributeType.FLOAT, f: 0.5 },
          { name: 'beta', type: AttributeType.FLOAT, f: 2 },
          { name: 'transB', type: AttributeType.INT, i: 1 },
        ],
      },
      { name: '/attn2/Add_1', opType: 'Add', input: ['/attn2/Mul_output_0', '/attn2/Gemm_output_0'], output: ['/attn2/Add_1_output_0'] },
      {
        name: '/attn2/Softmax',
        opType: 'Softmax',
        input: ['/attn2/Add_1_output_0'],
        output: ['y'],
        attribute: [{ name: 'axis', type: AttributeType.INT, i: -1 }],
      },
    ],
    initializer: [
      rawFloat('onnx::MatMul_7', [K, N], W),
      { name: 'bias', dims: [N], dataType: TensorDataType.FLOAT, floatData: Array.from(b) },
      rawFloat('gemm.weight', [N, K], V),
      rawFloat('gemm.bias', [N], c),
    ],
    input: [floatInfo('x', [M, K])],
    output: [floatInfo('y', [M, N])],
    valueInfo: [
      floatInfo('/attn2/to_k/MatMul_output_0', [M, N]),
      floatInfo('/attn2/Mul_output_0', [M, N]),
      floatInfo('/attn2/Gemm_output_0', [M, N]),
      floatInfo('/attn2/Add_1_output_0', [M, N]),
    ],
  };
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'lethe-test',
    producerVersion: '0',
    modelVersion: 3,
    docString: 'MatMul + Add + Softmax',
    graph,
    metadataProps: [{ key: 'purpose', value: 'codec test' }],
  };
  return { model, W, b, V, c, scale };
}

/** float64 reference of smallModel; also returns the MatMul output (the K projection). */
export function smallModelReference(m: SmallModel, x: Float32Array): { y: Float64Array; matmul: Float64Array } {
  const y = new Float64Array(M * N);
  const matmul = new Float64Array(M * N);
  for (let r = 0; r < M; r++) {
    for (let n = 0; n < N; n++) {
      let mm = 0;
      let gemm = 0;
      for (let k = 0; k < K; k++) {
        mm += x[r * K + k] * m.W[k * N + n];
        gemm += x[r * K + k] * m.V[n * K + k];
      }
      matmul[r * N + n] = mm;
      y[r * N + n] = (mm + m.b[n]) * m.scale + 0.5 * gemm + 2 * m.c[n];
    }
    let max = -Infinity;
    for (let n = 0; n < N; n++) max = Math.max(max, y[r * N + n]);
    let sum = 0;
    for (let n = 0; n < N; n++) sum += (y[r * N + n] = Math.exp(y[r * N + n] - max));
    for (let n = 0; n < N; n++) y[r * N + n] /= sum;
  }
  return { y, matmul };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** A model exercising every attribute type and every typed data field (not runnable in ORT). */
export function everyFieldModel(): ModelProto {
  const sub: GraphProto = {
    name: 'body',
    node: [{ opType: 'Identity', input: ['a'], output: ['b'] }],
    initializer: [],
    input: [floatInfo('a', [2])],
    output: [{ name: 'b', type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimParam: 'n' }] } } } }],
  };
  const tensors: TensorProto[] = [
    { name: 'i64', dims: [3], dataType: TensorDataType.INT64, int64Data: [-(2 ** 53 - 1), 0, 2 ** 40 + 3] },
    { name: 'f64', dims: [2], dataType: TensorDataType.DOUBLE, doubleData: [Math.PI, -1e300] },
    { name: 'half', dims: [2, 1], dataType: TensorDataType.FLOAT16, int32Data: [0x3c00, 0xc000] },
    { name: 'i32', dims: [2], dataType: TensorDataType.INT32, int32Data: [-7, 2 ** 31 - 1] },
    { name: 'u64', dims: [1], dataType: TensorDataType.UINT64, uint64Data: [2 ** 52] },
    { name: 'empty', dims: [0, 4], dataType: TensorDataType.FLOAT },
    {
      name: 'ext',
      dims: [4],
      dataType: TensorDataType.FLOAT,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: 'model.onnx_data' },
        { key: 'offset', value: '4096' },
        { key: 'length', value: '16' },
      ],
    },
  ];
  return {
    irVersion: 9,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'lethe.test', version: 1 }],
    producerName: 'lethe-test',
    domain: 'lethe',
    graph: {
      name: 'every',
      docString: 'all the fields',
      node: [
        {
          name: 'custom',
          opType: 'Everything',
          domain: 'lethe.test',
          docString: 'node doc',
          input: ['x', '', 'i64'],
          output: ['z'],
          attribute: [
            { name: 'f', type: AttributeType.FLOAT, f: -2.5 },
            { name: 'i', type: AttributeType.INT, i: -(2 ** 50) },
            { name: 's', type: AttributeType.STRING, s: text('héllo') },
            { name: 't', type: AttributeType.TENSOR, t: tensors[1] },
            { name: 'g', type: AttributeType.GRAPH, g: sub },
            { name: 'floats', type: AttributeType.FLOATS, floats: [1.5, -0.25, 0] },
            { name: 'ints', type: AttributeType.INTS, ints: [1, -1, 2 ** 33] },
            { name: 'strings', type: AttributeType.STRINGS, strings: [text('a'), text('')] },
            { name: 'tensors', type: AttributeType.TENSORS, tensors: [tensors[2], tensors[3]] },
            { name: 'graphs', type: AttributeType.GRAPHS, graphs: [sub, sub], docString: 'two bodies' },
          ],
        },
      ],
      initializer: tensors,
      input: [floatInfo('x', [1, 2]), { name: 'untyped' }],
      output: [floatInfo('z', [1, 2])],
      valueInfo: [{ name: 'i64', type: { tensorType: { elemType: TensorDataType.INT64 } }, docString: 'vi' }],
    },
    metadataProps: [{ key: 'k', value: 'v' }, { key: '', value: '' }],
  };
}
