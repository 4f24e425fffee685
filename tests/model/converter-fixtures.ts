import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readSafetensors, tensorToFloat32 } from '../../src/formats/safetensors/index.ts';
import type { PackManifest } from '../../src/model/manifest.ts';
import { halfBitsToFloat32, float32ToHalfBits } from '../../src/util/half.ts';
import { SeededRandom } from '../../src/util/random.ts';

/** Writes files under a fresh temp dir, so that onnxruntime opens models (and their external data) by path itself. */
export async function writeTree(files: ReadonlyMap<string, Uint8Array>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lethe-converter-'));
  for (const [path, bytes] of files) {
    const target = join(dir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface UnetInputs {
  sample: Float32Array;
  sampleDims: number[];
  timestep: BigInt64Array;
  embedding: Float64Array;
  embeddingDims: [number, number, number];
}

export function fixedInputs(textHidden: number, seed = 7): UnetInputs {
  const rng = new SeededRandom(seed);
  const batch = 2;
  const sampleDims = [batch, 4, 16, 8];
  return {
    sample: rng.normalArray(sampleDims.reduce((a, b) => a * b, 1)),
    sampleDims,
    timestep: BigInt64Array.from([500n, 21n]),
    embedding: rng.normalArray64(batch * 77 * textHidden),
    embeddingDims: [batch, 77, textHidden],
  };
}

export function floatTensor(values: ArrayLike<number>, dims: readonly number[], fp16: boolean): ort.Tensor {
  if (!fp16) return new ort.Tensor('float32', Float32Array.from(values), dims);
  return new ort.Tensor('float16', Uint16Array.from(values, (v) => float32ToHalfBits(v)), dims);
}

export function toFloat64(tensor: ort.Tensor): Float64Array {
  if (tensor.type === 'float16') return Float64Array.from(tensor.data as Uint16Array, halfBitsToFloat32);
  return Float64Array.from(tensor.data as Float32Array);
}

/** The unsplit export's noise prediction (onnxruntime on unet/model.onnx + model.onnx_data). */
export async function runUnsplit(exportDir: string, inputs: UnetInputs, fp16: boolean): Promise<{ values: Float64Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(join(exportDir, 'unet', 'model.onnx'));
  try {
    const out = await session.run({
      sample: floatTensor(inputs.sample, inputs.sampleDims, fp16),
      timestep: new ort.Tensor('int64', inputs.timestep, [inputs.timestep.length]),
      encoder_hidden_states: floatTensor(inputs.embedding, inputs.embeddingDims, fp16),
    });
    return { values: toFloat64(out.out_sample), dims: out.out_sample.dims };
  } finally {
    await session.release();
  }
}

/** K = E W^T in float64 from a [out, in] weight, E [batch, 77, in] -> [batch, 77, out]. */
export function project(embedding: Float64Array, dims: readonly number[], weight: Float32Array, shape: readonly [number, number]): Float64Array {
  const [batch, tokens, width] = dims;
  const [outWidth, inWidth] = shape;
  if (inWidth !== width) throw new Error(`project: weight input ${inWidth} vs embedding ${width}`);
  const out = new Float64Array(batch * tokens * outWidth);
  for (let r = 0; r < batch * tokens; r++)
    for (let o = 0; o < outWidth; o++) {
      let sum = 0;
      for (let i = 0; i < width; i++) sum += embedding[r * width + i] * weight[o * inWidth + i];
      out[r * outWidth + o] = sum;
    }
  return out;
}

export interface ChainResult {
  values: Float64Array;
  dims: readonly number[];
  /** Every piece output, by name, with its dims (for checking the manifest's shapes). */
  outputs: Map<string, readonly number[]>;
}

/** Runs the pack's pieces in order, K/V computed on the CPU from unet/cross_attention.safetensors. */
export async function runPack(packDir: string, files: ReadonlyMap<string, Uint8Array>, manifest: PackManifest, inputs: UnetInputs): Promise<ChainResult> {
  const fp16 = manifest.dtype === 'fp16';
  const weights = readSafetensors(files.get(manifest.crossAttentionWeights)!, manifest.crossAttentionWeights);
  const values = new Map<string, ort.Tensor>([
    ['sample', floatTensor(inputs.sample, inputs.sampleDims, fp16)],
    ['timestep', new ort.Tensor('int64', inputs.timestep, [inputs.timestep.length])],
  ]);
  for (const layer of manifest.crossAttention)
    for (const [input, projection] of [[layer.kInput, layer.toK], [layer.vInput, layer.toV]] as const) {
      const tensor = weights.tensors.get(projection.name);
      if (!tensor) throw new Error(`no ${projection.name} in the safetensors`);
      const w = tensorToFloat32({ name: projection.name, dtype: tensor.dtype, data: tensor.data }, 'cross_attention');
      const kv = project(inputs.embedding, inputs.embeddingDims, w, projection.shape);
      values.set(input, floatTensor(kv, [inputs.embeddingDims[0], 77, projection.shape[0]], fp16));
    }
  const outputs = new Map<string, readonly number[]>();
  for (const piece of manifest.pieces) {
    const session = await ort.InferenceSession.create(join(packDir, ...piece.file.split('/')));
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of piece.inputs) {
        const value = values.get(input.name);
        if (!value) throw new Error(`piece ${piece.name}: nothing computed "${input.name}"`);
        feeds[input.name] = value;
      }
      const result = await session.run(feeds);
      for (const output of piece.outputs) {
        values.set(output.name, result[output.name]);
        outputs.set(output.name, result[output.name].dims);
      }
    } finally {
      await session.release();
    }
  }
  const out = values.get('out_sample')!;
  return { values: toFloat64(out), dims: out.dims, outputs };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

/** Value of a manifest dim for concrete input sizes: numbers, symbols, `<sym>_div<n>`. */
export function evalDim(dim: number | string, bindings: Record<string, number>): number {
  if (typeof dim === 'number') return dim;
  if (dim in bindings) return bindings[dim];
  const m = /^([A-Za-z_]+?)_div(\d+)$/.exec(dim);
  if (m && m[1] in bindings) return bindings[m[1]] / Number(m[2]);
  throw new Error(`unbound dim ${dim}`);
}
