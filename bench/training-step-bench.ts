/**
 * Times the K/V-LoRA training step (src/training/training-step.ts) on a pack: the plain chained
 * forward, forward + backward per step, and the step's pool peak. No Node imports: it runs in the
 * bench page and in Node (the device runner) alike.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import type { ChainStepStats } from '../src/training/training-chain.ts';
import { promptAInputs, setUpTraining, targetOutput, trainingStep, type TrainingSetupOptions } from '../src/training/training-step.ts';
import { runPieces, type UnetShape } from '../src/training/unet-pieces.ts';
import type { PackReader } from '../src/model/pack-reader.ts';
import type { PackManifest } from '../src/model/manifest.ts';
import { timePerRun } from './timing.ts';

export interface TrainingStepBenchRow {
  label: string;
  shape: UnetShape;
  fuseAttention: boolean;
  mode: ChainStepStats['mode'];
  segments: number[];
  /** Plain chained forward (nothing recorded), ms. */
  forwardMs: number;
  /** Forward + backward + LoRA factor gradients, ms per step (loss read back every step). */
  stepMs: number;
  /** Pool peak of a step above its baseline, and the weights held. */
  peakBytes: number;
  weightsBytes: number;
  loadMs: number;
}

export async function benchTrainingStep(ctx: GpuContext, label: string, pack: { manifest: Pick<PackManifest, 'dims' | 'pieces'>; read: PackReader['bytes'] }, options: TrainingSetupOptions, log: (line: string) => void = () => {}, timing: { minMs?: number; maxRuns?: number } = {}): Promise<TrainingStepBenchRow> {
  const setup = await setUpTraining(ctx, pack, options);
  try {
    const sync = () => ctx.sync();
    const { given, made } = promptAInputs(ctx, setup);
    const forward = await timePerRun(() => runPieces(setup.graphs, given).release(), sync, timing.minMs ?? 1000, timing.maxRuns ?? 20);
    for (const t of made) t.release();
    const target = await targetOutput(ctx, setup);
    let stats: ChainStepStats | undefined;
    const step = await timePerRun(
      async () => {
        const result = await trainingStep(ctx, setup, target);
        for (const g of result.grads) g.release();
        stats = result.stats;
      },
      sync,
      timing.minMs ?? 1000,
      timing.maxRuns ?? 10,
    );
    const row: TrainingStepBenchRow = {
      label,
      shape: options.shape,
      fuseAttention: options.fuseAttention ?? false,
      mode: stats!.mode,
      segments: stats!.segments,
      forwardMs: forward.ms,
      stepMs: step.ms,
      peakBytes: stats!.peakBytes,
      weightsBytes: setup.weightsBytes,
      loadMs: setup.loadMs,
    };
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    log(`${label} ${options.shape.batch}x${options.shape.latentHeight}x${options.shape.latentWidth}${row.fuseAttention ? ' fused' : ''} ${row.mode} [${row.segments.join('/')}]: forward ${row.forwardMs.toFixed(1)} ms, forward+backward ${row.stepMs.toFixed(1)} ms/step, step peak ${mib(row.peakBytes)} MiB, weights ${mib(row.weightsBytes)} MiB`);
    return row;
  } finally {
    setup.release();
  }
}
