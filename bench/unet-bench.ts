import type { GpuContext } from '../src/gpu/context.ts';
import { forgedPack } from '../src/diagnostics/forged-pack.ts';
import type { OnnxRunner, Tensor } from '../src/pipeline/onnx/runner.ts';
import { readFloat32 } from '../src/pipeline/onnx/runner.ts';
import { loadCrossAttentionWeights } from '../src/pipeline/unet/cross-attention-weights.ts';
import { projectKv } from '../src/pipeline/unet/kv-projection.ts';
import { UnetRunner } from '../src/pipeline/unet/unet-runner.ts';
import { SeededRandom } from '../src/util/random.ts';
import { timePerRun } from './timing.ts';

export interface UnetStepBenchRow {
  preset: string;
  batch: number;
  /** The pack's pieces chained, K/V projected once per generation by our matmul. */
  chainMsPerStep: number;
  /** The forged export's unsplit UNet in one ORT session (it projects K/V inside every step). */
  unsplitMsPerStep: number;
  /** chain / unsplit - 1 (goal: under 5%; negative: the chain is faster). */
  overhead: number;
}

/** ms per UNet step (batch 2, classifier-free guidance) on the runner's adapter, both ways. */
export async function benchUnetStep(ctx: GpuContext, runner: OnnxRunner, log: (line: string) => void): Promise<UnetStepBenchRow> {
  const preset = 'tiny-sd15';
  const { exportFiles, pack } = await forgedPack(preset);
  const { textHidden, textTokens, latentChannels, sampleSize } = pack.manifest.dims;
  const batch = 2;
  const shape = [batch, latentChannels, sampleSize, sampleSize];
  const random = new SeededRandom(3);
  const sample = random.normalArray(shape.reduce((a, b) => a * b, 1));
  const embedding = random.normalArray(batch * textTokens * textHidden);
  const sync = async () => {
    ctx.flush();
    await ctx.device.queue.onSubmittedWorkDone();
  };

  const unsplit = await runner.createSession({
    name: 'unet/model.onnx',
    model: exportFiles.get('unet/model.onnx')!,
    externalData: [{ path: 'model.onnx_data', data: exportFiles.get('unet/model.onnx_data')! }],
  });
  const hidden = runner.hostTensor('float32', embedding, [batch, textTokens, textHidden]);
  const unsplitStep = async () => {
    const outputs: Record<string, Tensor> = await unsplit.run({
      sample: runner.hostTensor('float32', sample, shape),
      timestep: runner.hostTensor('int64', BigInt64Array.of(500n), [1]),
      encoder_hidden_states: hidden,
    });
    await readFloat32(outputs.out_sample);
    for (const tensor of Object.values(outputs)) tensor.dispose();
  };

  const weights = await loadCrossAttentionWeights(ctx, pack);
  const embeddingTensor = ctx.upload(embedding, [batch, textTokens, textHidden]);
  const kv = projectKv(ctx, embeddingTensor, weights);
  ctx.flush();
  const unet = await UnetRunner.create(runner, pack);
  const conditioning = await unet.conditioning(ctx, kv);
  const chainStep = async () => {
    await unet.predict(sample, shape, 500, conditioning);
  };

  // Interleaved rounds, best of each, so background load hits both alike.
  let chainMs = Infinity;
  let unsplitMs = Infinity;
  for (let round = 0; round < 3; round++) {
    chainMs = Math.min(chainMs, (await timePerRun(chainStep, sync, 300, 20)).ms);
    unsplitMs = Math.min(unsplitMs, (await timePerRun(unsplitStep, sync, 300, 20)).ms);
  }
  conditioning.release();
  kv.release();
  embeddingTensor.release();
  for (const tensor of [...weights.toK, ...weights.toV]) tensor.release();
  await unet.release();
  await unsplit.release();
  const row = { preset, batch, chainMsPerStep: chainMs, unsplitMsPerStep: unsplitMs, overhead: chainMs / unsplitMs - 1 };
  log(`UNet step ${preset} batch ${batch}: pieces ${chainMs.toFixed(1)} ms, unsplit ${unsplitMs.toFixed(1)} ms, overhead ${(row.overhead * 100).toFixed(1)}%`);
  return row;
}
