/**
 * The training bench for a machine with a real GPU, in Node (Dawn), carried there by
 * tools/device (no npm on that machine). For each preset it forges the export, converts it to a
 * pack on disk, and measures with bench/training-step-bench.ts: the plain forward, forward + backward
 * per step and the step's peak memory, recorded and under a memory budget; for tiny-sd15 it also
 * runs the 100-step Adam sanity fit. It saves one forward's inputs and output so that
 * a PyTorch run of the same pack can be compared against it.
 *
 * Usage: run.sh --work DIR --out DIR [--presets tiny-sd15,sd15-shapes] [--sanity-steps 100]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { nodeGpu } from '../../src/gpu/node-gpu.ts';
import { runPieces, type UnetShape } from '../../src/training/unet-pieces.ts';
import { runConvertCli } from '../../src/cli/convert-folder.ts';
import { forge } from '../../src/model/forge/forge-to-directory.ts';
import type { ForgePresetName } from '../../src/model/forge/presets.ts';
import type { PackManifest } from '../../src/model/manifest.ts';
import { fitKvLora, promptAInputs, setUpTraining } from '../../src/training/training-step.ts';
import { benchTrainingStep, type TrainingStepBenchRow } from '../training-step-bench.ts';

const { values } = parseArgs({ options: { work: { type: 'string' }, out: { type: 'string' }, presets: { type: 'string' }, 'sanity-steps': { type: 'string' }, budget: { type: 'string' } } });
const work = values.work ?? '/tmp/lethe-train-bench';
const out = values.out ?? work;
const presets = (values.presets ?? 'tiny-sd15,sd15-shapes').split(',') as ForgePresetName[];
const sanitySteps = Number(values['sanity-steps'] ?? 100);
mkdirSync(out, { recursive: true });

const log = (line: string): void => console.log(`[${(performance.now() / 1000).toFixed(1)} s] ${line}`);
const { device, report } = await acquireDevice(await nodeGpu(), 'lethe-train-bench');
const ctx = new GpuContext(device);
log(`adapter: ${report.vendor} ${report.architecture} ${report.description}; maxBufferSize ${report.maxBufferSize}, maxStorageBufferBindingSize ${report.maxStorageBufferBindingSize}`);

const result: Record<string, unknown> = { adapter: report };
const rows: TrainingStepBenchRow[] = [];

for (const preset of presets) {
  const exportDir = join(work, `${preset}-export`);
  const packDir = join(work, `${preset}-pack`);
  const tiny = preset.startsWith('tiny');
  let started = performance.now();
  await forge({ preset, seed: 11, dtype: tiny ? 'fp32' : 'fp16', outDir: exportDir });
  log(`${preset}: forged in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  const manifest: PackManifest = await runConvertCli(exportDir, packDir, { plan: 'default' });
  log(`${preset}: converted in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const pack = { manifest, read: async (path: string) => new Uint8Array(readFileSync(join(packDir, path))) };
  const shape: UnetShape = tiny ? { batch: 1, latentHeight: 16, latentWidth: 8 } : { batch: 1, latentHeight: 64, latentWidth: 64 };

  if (tiny && sanitySteps > 0) {
    const setup = await setUpTraining(ctx, pack, { shape });
    const fit = await fitKvLora(ctx, setup, { steps: sanitySteps, learningRate: 0.02 }, log);
    setup.release();
    const ratio = fit.losses[0] / fit.losses[fit.losses.length - 1];
    log(`${preset} sanity: ${sanitySteps} Adam steps, loss ${fit.losses[0].toExponential(3)} -> ${fit.losses.at(-1)!.toExponential(3)} (x${ratio.toFixed(1)}) in ${fit.seconds.toFixed(2)} s`);
    result[`${preset}-sanity`] = { steps: sanitySteps, firstLoss: fit.losses[0], lastLoss: fit.losses.at(-1), ratio, seconds: fit.seconds, peakBytes: fit.peakBytes, losses: fit.losses };
  }

  for (const fuseAttention of [false, true]) rows.push(await benchTrainingStep(ctx, preset, pack, { shape, fuseAttention }, log, { minMs: 2000, maxRuns: 20 }));
  // Under a budget a third of the recorded step's peak: pieces re-run, cut into segments.
  const recordedPeak = rows[rows.length - 1].peakBytes;
  const budget = Number(values.budget ?? 0) || recordedPeak / 3;
  rows.push(await benchTrainingStep(ctx, `${preset} budget ${(budget / 2 ** 20).toFixed(0)} MiB`, pack, { shape, fuseAttention: true, memoryBudgetBytes: budget }, log, { minMs: 2000, maxRuns: 10 }));

  // One forward's inputs and output, for comparison with another runtime on the same GPU.
  const setup = await setUpTraining(ctx, pack, { shape, fuseAttention: true });
  const checkDir = join(work, `${preset}-check`);
  mkdirSync(checkDir, { recursive: true });
  // Prompt A's K/V without LoRA (B is zero at setup) and the output they give.
  const { given, made } = promptAInputs(ctx, setup, () => false);
  const outputs = runPieces(setup.graphs, given);
  const dims: Record<string, readonly number[]> = {};
  for (const [name, tensor] of [...given, ['out_sample', outputs.values.get('out_sample')!] as const]) {
    writeFileSync(join(checkDir, `${name}.f32`), await ctx.read(tensor));
    dims[name] = tensor.shape;
  }
  writeFileSync(join(checkDir, 'dims.json'), JSON.stringify(dims));
  outputs.release();
  for (const t of made) t.release();
  setup.release();
  ctx.pool.trim();
}
result.rows = rows;
writeFileSync(join(out, 'train-bench.json'), JSON.stringify(result, null, 1));
log('done');
device.destroy();
