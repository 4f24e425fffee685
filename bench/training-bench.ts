/**
 * The training rows of `npm run bench` (suite `training`): on the page's adapter, for the forged
 * tiny-sd15 pack at batch 1, 16x8 latent: our plain forward, forward + backward per K/V-LoRA
 * step and the step's peak memory (unfused, fused attention, and under a memory budget a third
 * of the fused peak); and beside our forward, onnxruntime-web's forward of the same pieces on
 * the same GPUDevice (UnetRunner, the generation path), timed in interleaved rounds.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { forgedPack } from '../src/diagnostics/forged-pack.ts';
import type { OnnxRunner } from '../src/pipeline/onnx/runner.ts';
import { loadCrossAttentionWeights } from '../src/pipeline/unet/cross-attention-weights.ts';
import { projectKv } from '../src/pipeline/unet/kv-projection.ts';
import { UnetRunner } from '../src/pipeline/unet/unet-runner.ts';
import { SeededRandom } from '../src/util/random.ts';
import { timePerRun } from './timing.ts';
import { benchTrainingStep, type TrainingStepBenchRow } from './training-step-bench.ts';
import { loadUnetPieces, runPieces, type UnetShape } from '../src/training/unet-pieces.ts';

export interface TrainingBenchResult {
  steps: TrainingStepBenchRow[];
  /** The same pieces' forward in onnxruntime-web (WebGPU EP), ms, best of interleaved rounds. */
  ortForwardMs: number;
  /** Our unfused forward, ms, best of the same rounds. */
  oursForwardMs: number;
  /** ours / ORT (above 1: ours is slower). */
  forwardRatio: number;
}

const SHAPE: UnetShape = { batch: 1, latentHeight: 16, latentWidth: 8 };

export async function benchTraining(ctx: GpuContext, runner: OnnxRunner, log: (line: string) => void): Promise<TrainingBenchResult> {
  const { pack } = await forgedPack('tiny-sd15');
  const source = { manifest: pack.manifest, read: pack.bytes };
  const steps: TrainingStepBenchRow[] = [];
  for (const fuseAttention of [false, true]) steps.push(await benchTrainingStep(ctx, 'tiny-sd15', source, { shape: SHAPE, fuseAttention }, log));
  const budget = steps[1].peakBytes / 3;
  steps.push(await benchTrainingStep(ctx, `tiny-sd15 budget ${(budget / 1024).toFixed(0)} KiB`, source, { shape: SHAPE, fuseAttention: true, memoryBudgetBytes: budget }, log));

  // ORT-web's forward of the same pack pieces on the same device, against ours, interleaved.
  const { textHidden, textTokens, latentChannels } = pack.manifest.dims;
  const random = new SeededRandom(3);
  const latentShape = [SHAPE.batch, latentChannels, SHAPE.latentHeight, SHAPE.latentWidth];
  const sample = random.normalArray(latentShape.reduce((a, b) => a * b, 1));
  const embedding = ctx.upload(random.normalArray(SHAPE.batch * textTokens * textHidden), [SHAPE.batch, textTokens, textHidden]);
  const weights = await loadCrossAttentionWeights(ctx, pack);
  const kv = projectKv(ctx, embedding, weights);
  const unet = await UnetRunner.create(runner, pack);
  const conditioning = await unet.conditioning(ctx, kv);
  const graphs = await loadUnetPieces(ctx, pack.manifest, pack.bytes, SHAPE);
  const given = new Map([
    ['sample', ctx.upload(sample, latentShape)],
    ['timestep', ctx.upload(new Float32Array(SHAPE.batch).fill(500), [SHAPE.batch])],
  ]);
  kv.keys.forEach((k, i) => given.set(`k_${i}`, k));
  kv.values.forEach((v, i) => given.set(`v_${i}`, v));
  const sync = () => ctx.sync();
  // Both read out_sample back, as a generation step does.
  const ours = async (): Promise<void> => {
    const outputs = runPieces(graphs, given);
    await ctx.read(outputs.values.get('out_sample')!);
    outputs.release();
  };
  const ort = async (): Promise<void> => {
    await unet.predict(sample, latentShape, 500, conditioning);
  };
  let oursForwardMs = Infinity;
  let ortForwardMs = Infinity;
  for (let round = 0; round < 3; round++) {
    oursForwardMs = Math.min(oursForwardMs, (await timePerRun(ours, sync, 1000, 20)).ms);
    ortForwardMs = Math.min(ortForwardMs, (await timePerRun(ort, sync, 1000, 20)).ms);
  }
  conditioning.release();
  await unet.release();
  for (const graph of graphs) graph.release();
  given.get('sample')!.release();
  given.get('timestep')!.release();
  kv.release();
  embedding.release();
  for (const tensor of [...weights.toK, ...weights.toV]) tensor.release();
  const forwardRatio = oursForwardMs / ortForwardMs;
  log(`tiny-sd15 forward 1x16x8: ours ${oursForwardMs.toFixed(1)} ms, onnxruntime-web ${ortForwardMs.toFixed(1)} ms (ours/ORT ${forwardRatio.toFixed(2)})`);
  return { steps, ortForwardMs, oursForwardMs, forwardRatio };
}
