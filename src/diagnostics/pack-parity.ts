import type { GpuContext } from '../gpu/context.ts';
import type { ForgedDemoPreset } from '../model/pack-spec.ts';
import type { OnnxRunner } from '../pipeline/onnx/runner.ts';
import { readFloat32 } from '../pipeline/onnx/runner.ts';
import { loadCrossAttentionWeights } from '../pipeline/unet/cross-attention-weights.ts';
import { projectKv } from '../pipeline/unet/kv-projection.ts';
import { UnetRunner } from '../pipeline/unet/unet-runner.ts';
import { halfBitsToFloat32 as halfToFloat, toHalf } from '../util/half.ts';
import { SeededRandom } from '../util/random.ts';
import { forgedPack } from './forged-pack.ts';

export interface ParityRow {
  preset: ForgedDemoPreset;
  dtype: 'fp32' | 'fp16';
  /** max |pack - unsplit export| over the noise prediction. */
  maxAbsDiff: number;
  maxAbsValue: number;
  tolerance: number;
  passed: boolean;
  runner: string;
}

/**
 * The same noise prediction two ways on one runtime: the forged export's unsplit UNet in one
 * session, and the converted pack's pieces chained with K/V computed by our kernels. Proves the
 * converter and the piece chain on whatever runner is given (ORT-web WebGPU in the browser).
 */
export async function checkPackParity(ctx: GpuContext, runner: OnnxRunner, preset: ForgedDemoPreset, dtype: 'fp32' | 'fp16'): Promise<ParityRow> {
  const { exportFiles: files, pack } = await forgedPack(preset, dtype);
  const manifest = pack.manifest;
  const { textHidden, textTokens, latentChannels } = manifest.dims;
  const batch = 2;
  const side = 8;
  const random = new SeededRandom(5);
  const sample = random.normalArray(batch * latentChannels * side * side);
  const embedding = random.normalArray(batch * textTokens * textHidden);
  const timestep = 500;
  const half = dtype === 'fp16';

  const unsplit = await runner.createSession({
    name: 'unet/model.onnx',
    model: files.get('unet/model.onnx')!,
    externalData: [{ path: 'model.onnx_data', data: files.get('unet/model.onnx_data')! }],
  });
  const floatTensor = (values: Float32Array, dims: number[]) => (half ? runner.hostTensor('float16', toHalf(values), dims) : runner.hostTensor('float32', values, dims));
  const outputs = await unsplit.run({
    sample: floatTensor(sample, [batch, latentChannels, side, side]),
    timestep: runner.hostTensor('int64', BigInt64Array.of(BigInt(timestep)), [1]),
    encoder_hidden_states: floatTensor(embedding, [batch, textTokens, textHidden]),
  });
  const expected = await readFloat32(outputs.out_sample);
  await unsplit.release();

  const weights = await loadCrossAttentionWeights(ctx, pack);
  // The export multiplies fp16 embeddings by fp16 weights: give the pack the same rounded inputs.
  const embeddingInput = half ? Float32Array.from(toHalf(embedding), (bits) => halfToFloat(bits)) : embedding;
  const embeddingTensor = ctx.upload(embeddingInput, [batch, textTokens, textHidden]);
  const kv = projectKv(ctx, embeddingTensor, weights);
  ctx.flush();
  const unet = await UnetRunner.create(runner, pack);
  const conditioning = await unet.conditioning(ctx, kv);
  const got = await unet.predict(sample, [batch, latentChannels, side, side], timestep, conditioning);
  conditioning.release();
  kv.release();
  embeddingTensor.release();
  for (const tensor of [...weights.toK, ...weights.toV]) tensor.release();
  await unet.release();

  let maxAbsDiff = 0;
  let maxAbsValue = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - expected[i]));
    maxAbsValue = Math.max(maxAbsValue, Math.abs(expected[i]));
  }
  // fp16: each K/V element may round differently once (export: fp16 MatMul; pack: f32 then fp16),
  // carried through 16 attention layers: allow 8 fp16 ulps of the output's scale.
  const tolerance = half ? 8 * 2 ** -11 * maxAbsValue : 1e-5;
  return { preset, dtype, maxAbsDiff, maxAbsValue, tolerance, passed: maxAbsDiff < tolerance && got.length === expected.length, runner: runner.name };
}
