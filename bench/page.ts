/**
 * The benchmark page (bench.html), driven by bench/run.mjs in headless Chromium. Measures our
 * kernels and onnxruntime-web's on the same GPUDevice, side by side, in one run.
 */
import { GpuContext } from '../src/gpu/context.ts';
import { acquireDevice, type AdapterReport } from '../src/gpu/device.ts';
import { benchClosedForm, type ClosedFormBenchRow } from './closed-form-bench.ts';
import { benchDiffusersBuild, type DiffusersBuildBenchRow } from './diffusers-build-bench.ts';
import { benchMatmul, type MatmulBenchRow } from './matmul-bench.ts';
import { benchTraining, type TrainingBenchResult } from './training-bench.ts';
import { benchTrueScale, TRUE_SCALE_DEFAULTS, type TrueScaleResult, type TrueScaleStageName } from './true-scale.ts';
import { benchUnetStep, type UnetStepBenchRow } from './unet-bench.ts';
import { WebGpuOnnxRunner } from '../src/pipeline/onnx/web-runner.ts';

export interface BenchResult {
  adapter: AdapterReport;
  userAgent: string;
  matmul: MatmulBenchRow[];
  unetStep: UnetStepBenchRow;
  closedForm: ClosedFormBenchRow[];
  diffusersBuild: DiffusersBuildBenchRow | null;
  training: TrainingBenchResult | null;
  trueScale: TrueScaleResult | null;
}

declare global {
  interface Window {
    __LETHE_BENCH__?: { result?: BenchResult; error?: string };
  }
}

const status = document.getElementById('status')!;
const table = document.getElementById('table')!;
const log = (line: string) => {
  table.textContent += `${line}\n`;
  console.log(line);
};

async function main(): Promise<BenchResult> {
  const { device, report } = await acquireDevice(navigator.gpu, 'lethe-bench');
  const ctx = new GpuContext(device);
  log(`adapter: ${report.vendor} ${report.architecture} ${report.description}`);
  const query = new URLSearchParams(location.search);
  const suites = query.get('suites')?.split(',') ?? ['matmul', 'unet', 'closed-form', 'training'];
  const matmul = suites.includes('matmul') ? await benchMatmul(ctx, log) : [];
  const unetStep = suites.includes('unet') ? await benchUnetStep(ctx, new WebGpuOnnxRunner(device), log) : (null as unknown as UnetStepBenchRow);
  const closedForm = suites.includes('closed-form') ? await benchClosedForm({ ctx, log }) : [];
  // Needs a hub-style server with a diffusers repo: run.mjs --diffusers-endpoint=URL --diffusers-repo=owner/name.
  const diffusersBuild = suites.includes('diffusers-build') ? await benchDiffusersBuild(query.get('endpoint') ?? '', query.get('repo') ?? '', log) : null;
  const training = suites.includes('training') ? await benchTraining(ctx, new WebGpuOnnxRunner(device), log) : null;
  // Needs SD-sized packs on a hub-style server: run.mjs --suites=true-scale --packs=DIR,DIR serves them.
  const trueScaleOptions = {
    stages: (query.get('stages')?.split(',') as TrueScaleStageName[] | undefined) ?? TRUE_SCALE_DEFAULTS.stages,
    generateSide: query.has('size') ? Number(query.get('size')) : TRUE_SCALE_DEFAULTS.generateSide,
    trainLatentSide: query.has('train-latent') ? Number(query.get('train-latent')) : TRUE_SCALE_DEFAULTS.trainLatentSide,
    eraseTemplates: query.has('erase-templates') ? Number(query.get('erase-templates')) : TRUE_SCALE_DEFAULTS.eraseTemplates,
  };
  const trueScale = suites.includes('true-scale') ? await benchTrueScale(query.get('endpoint') ?? '', (query.get('repos') ?? '').split(',').filter(Boolean), log, trueScaleOptions) : null;
  return { adapter: report, userAgent: navigator.userAgent, matmul, unetStep, closedForm, diffusersBuild, training, trueScale };
}

window.__LETHE_BENCH__ = {};
main().then(
  (result) => {
    window.__LETHE_BENCH__ = { result };
    status.textContent = 'done';
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
    window.__LETHE_BENCH__ = { error: message };
    status.textContent = `failed: ${message}`;
  },
);
