/**
 * The true-scale suite (`npm run bench -- --suites=true-scale --packs=DIR,DIR`): SD-sized packs
 * (sd15-shapes, sd21-shapes, fp32) go through everything the studio does, in this page, on
 * Chromium's adapter: load from a hub-style server into the OPFS cache, generate one image,
 * compute a RealEra closed-form edit, export the LoRA, and take one K/V-LoRA training step (by default at
 * 64x64 latents) under a memory budget. Per stage: wall time, peak JS heap, peak GPU memory
 * (Lethe's buffer pool, and every GPUBuffer on the device, onnxruntime-web's included, counted
 * where they are created and destroyed) and the OPFS bytes written. bench/run.mjs serves the
 * packs and adds the browser's peak resident memory per stage.
 */
import { Engine } from '../src/engine/engine.ts';
import { GpuOutOfMemoryError } from '../src/engine/gpu-out-of-memory.ts';
import { browserPlatform } from '../src/engine/browser-platform.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { acquireDevice } from '../src/gpu/device.ts';
import { REALERA_CLOSED_FORM } from '../src/erasure/closed-form-problem.ts';
import type { EraseRequest } from '../src/erasure/erase-request.ts';
import { PROMPT_TEMPLATES } from '../src/erasure/prompt-templates.ts';
import { OpfsBlobCache } from '../src/model/cache/opfs.ts';
import { checkPackFit, PackDoesNotFitError } from '../src/model/fit-check.ts';
import { openPack } from '../src/model/pack-opener.ts';
import { setUpTraining, targetOutput, trainingStep } from '../src/training/training-step.ts';

export interface TrueScaleStage {
  pack: string;
  stage: 'load' | 'generate' | 'erase' | 'export' | 'train';
  seconds: number;
  /** performance.memory.usedJSHeapSize, sampled every 100 ms (ArrayBuffers and wasm memory are not in it). */
  peakJsHeapBytes: number;
  /** Lethe's BufferPool: peak bytes handed out during the stage. */
  poolPeakBytes: number;
  /** Every GPUBuffer alive on the page's devices (ours and onnxruntime-web's), peak during the stage. */
  peakGpuBytes: number;
  /** Growth of navigator.storage.estimate().usage during the stage. */
  opfsWrittenBytes: number;
  /** What the stage did (image size, edit rank, LoRA size, training mode ...). */
  detail: string;
}

export interface TrueScalePackResult {
  pack: string;
  packBytes: number;
  /** The fit check's view of the pack on this adapter, before loading. */
  fit: { largestBufferBytes: number; largestBuffer: string; estimatedGpuBytes: number; largestFittingSide: number; notes: string[] };
  /** The clear message a generation at the native size got, when it does not fit this adapter. */
  nativeSizeRefusal: string | null;
  stages: TrueScaleStage[];
}

export interface TrueScaleResult {
  maxBufferSize: number;
  packs: TrueScalePackResult[];
}

interface ChromeMemory {
  usedJSHeapSize: number;
}

/** Set by bench/run.mjs (page.exposeFunction): tells it which stage runs, for its resident-memory samples. */
declare global {
  interface Window {
    __letheStage?: (name: string) => Promise<void>;
    /** Makes the hub-style server serve this pack (and drop the one before, to spare memory). */
    __letheServePack?: (repo: string) => Promise<void>;
  }
}

/** Counts every GPUBuffer's bytes from createBuffer to destroy (or its device's destroy, or garbage collection). */
class GpuBufferMeter {
  liveBytes = 0;
  peakBytes = 0;
  private readonly sizes = new WeakMap<GPUBuffer, { bytes: number; device: GPUDevice }>();
  private readonly perDevice = new Map<GPUDevice, number>();
  private readonly collected = new FinalizationRegistry<{ bytes: number; device: GPUDevice }>((entry) => this.subtract(entry));

  install(): void {
    const meter = this;
    const createBuffer = GPUDevice.prototype.createBuffer;
    GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
      const buffer = createBuffer.call(this, descriptor);
      const entry = { bytes: descriptor.size, device: this };
      meter.sizes.set(buffer, entry);
      meter.collected.register(buffer, entry, buffer);
      meter.perDevice.set(this, (meter.perDevice.get(this) ?? 0) + entry.bytes);
      meter.liveBytes += entry.bytes;
      meter.peakBytes = Math.max(meter.peakBytes, meter.liveBytes);
      return buffer;
    };
    const destroyBuffer = GPUBuffer.prototype.destroy;
    GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
      const entry = meter.sizes.get(this);
      if (entry) {
        meter.sizes.delete(this);
        meter.collected.unregister(this);
        meter.subtract(entry);
      }
      return destroyBuffer.call(this);
    };
    const destroyDevice = GPUDevice.prototype.destroy;
    GPUDevice.prototype.destroy = function (this: GPUDevice): undefined {
      meter.liveBytes -= meter.perDevice.get(this) ?? 0;
      meter.perDevice.delete(this);
      return destroyDevice.call(this);
    };
  }

  private subtract(entry: { bytes: number; device: GPUDevice }): void {
    const onDevice = this.perDevice.get(entry.device);
    if (onDevice === undefined) return; // the device was destroyed: already subtracted
    this.perDevice.set(entry.device, onDevice - entry.bytes);
    this.liveBytes -= entry.bytes;
  }
}

const meter = new GpuBufferMeter();

async function storageUsage(): Promise<number> {
  return (await navigator.storage.estimate()).usage ?? 0;
}

/** Runs one stage with its meters. `pool` reads Lethe's pool peak (null: no context yet). */
async function measure(
  pack: string,
  stage: TrueScaleStage['stage'],
  pool: () => GpuContext | null,
  log: (line: string) => void,
  run: () => Promise<string>,
): Promise<TrueScaleStage> {
  await window.__letheStage?.(`${pack}:${stage}`);
  const heap = () => (performance as Performance & { memory?: ChromeMemory }).memory?.usedJSHeapSize ?? 0;
  let peakJsHeapBytes = heap();
  const timer = setInterval(() => (peakJsHeapBytes = Math.max(peakJsHeapBytes, heap())), 100);
  meter.peakBytes = meter.liveBytes;
  const usageBefore = await storageUsage();
  const watch = pool()?.pool.watchPeak();
  const started = performance.now();
  let detail: string;
  try {
    detail = await run();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  peakJsHeapBytes = Math.max(peakJsHeapBytes, heap());
  const poolPeakBytes = watch ? watch.peakBytes - watch.startBytes : (pool()?.pool.snapshot().peakInUseBytes ?? 0);
  watch?.stop();
  const row: TrueScaleStage = {
    pack,
    stage,
    seconds,
    peakJsHeapBytes,
    poolPeakBytes,
    peakGpuBytes: meter.peakBytes,
    opfsWrittenBytes: (await storageUsage()) - usageBefore,
    detail,
  };
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  log(
    `true-scale ${pack} ${stage}: ${seconds.toFixed(1)} s, JS heap ${mib(peakJsHeapBytes)}, pool ${mib(poolPeakBytes)}, GPU buffers ${mib(row.peakGpuBytes)}, OPFS +${mib(row.opfsWrittenBytes)}; ${detail}`,
  );
  await window.__letheStage?.('');
  return row;
}

/** The studio's default object concept set on the concept world's vocabulary: one class erased with its synonyms, the other classes preserved. */
const ERASE_AIRPLANE: EraseRequest = {
  concepts: {
    kind: 'object',
    targets: [{ concept: 'airplane', corefs: ['aircraft', 'plane', 'jet'] }],
    preserve: ['automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
  },
  method: 'realera',
  tokens: 'subject',
  realera: { seed: 0 },
  closedForm: { ...REALERA_CLOSED_FORM },
};

const TRAINING_BUDGET_BYTES = 2 * 2 ** 30;

export type TrueScaleStageName = TrueScaleStage['stage'];
export const TRUE_SCALE_STAGES: readonly TrueScaleStageName[] = ['load', 'generate', 'erase', 'export', 'train'];

export interface TrueScaleOptions {
  /** Which stages to run after the load (export needs erase); all by default. */
  stages: readonly TrueScaleStageName[];
  /**
   * The generated image's side when it should be smaller than the largest that fits (SwiftShader
   * on 2 cores takes hours for one 448x448 step): the native size is still tried first, so its
   * refusal is still reported.
   */
  generateSide: number | null;
  /** The training step's latent side (64 = SD's 512x512). */
  trainLatentSide: number;
  /**
   * How many of the object prompt templates the erase writes each concept into (6 in the studio).
   * Each is a text-encoder run per concept; on SwiftShader (2 cores) sd15's encoder takes about 30 s a prompt.
   */
  eraseTemplates: number;
}

export const TRUE_SCALE_DEFAULTS: TrueScaleOptions = {
  stages: TRUE_SCALE_STAGES,
  generateSide: null,
  trainLatentSide: 64,
  eraseTemplates: PROMPT_TEMPLATES.object.length,
};

export async function benchTrueScale(
  endpoint: string,
  repos: string[],
  log: (line: string) => void,
  { stages, generateSide, trainLatentSide, eraseTemplates }: TrueScaleOptions = TRUE_SCALE_DEFAULTS,
): Promise<TrueScaleResult> {
  meter.install();
  const packs: TrueScalePackResult[] = [];
  let maxBufferSize = 0;
  for (const repo of repos) {
    const name = repo.split('/').pop()!;
    const engine = new Engine(browserPlatform);
    const status = await engine.init();
    if (status.state !== 'ready') throw new Error(`no WebGPU: ${status.message}`);
    maxBufferSize = status.report.maxBufferSize;
    let engineCtx = await engine.gpu();
    const ctx = () => engineCtx;
    const rows: TrueScaleStage[] = [];
    const spec = { kind: 'hub' as const, repo, endpoint };

    log(`true-scale ${name}: serving ${repo}`);
    await window.__letheServePack?.(repo);
    log(`true-scale ${name}: loading from ${endpoint}`);
    const load = await measure(name, 'load', ctx, log, async () => {
      let download = 0;
      let compileStarted = 0;
      const started = performance.now();
      let lastFile = '';
      const summary = await engine.loadPack(spec, (p) => {
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        if (p.file && p.file !== lastFile) log(`  ${name} ${p.phase} ${p.file}${p.cached ? ' (cached)' : ''} at ${seconds} s`);
        lastFile = p.file ?? lastFile;
        if (p.phase === 'compile' && !compileStarted) {
          compileStarted = performance.now();
          download = (compileStarted - started) / 1000;
        }
      });
      return `${summary.files} files, ${(summary.bytes / 2 ** 30).toFixed(2)} GiB (${(summary.downloadedBytes / 2 ** 30).toFixed(2)} GiB downloaded) in ${download.toFixed(0)} s, ORT sessions and weights ready ${((performance.now() - compileStarted) / 1000).toFixed(0)} s later`;
    });
    rows.push(load);
    const model = engine.loadedModel!;
    const manifest = model.pack.manifest;
    const fit = checkPackFit({ manifest, adapter: status.report, storage: null });

    // The native size first: where it cannot fit this adapter, the engine refuses it up front.
    const native = manifest.dims.sampleSize * manifest.dims.vaeScale;
    let nativeSizeRefusal: string | null = null;
    let outOfMemory: string | null = null;
    let side = native;
    const params = (size: number) => ({
      jobId: crypto.randomUUID(),
      prompt: 'a photo of an airplane',
      seed: 1,
      steps: 1,
      guidance: 7.5,
      scheduler: 'ddim' as const,
      width: size,
      height: size,
      variant: 'original' as const,
    });
    try {
      if (stages.includes('generate') && (!fit.fits || fit.notes.length > 0)) await engine.generate(params(native));
    } catch (error) {
      if (!(error instanceof PackDoesNotFitError)) throw error;
      nativeSizeRefusal = error.message;
      side = fit.largestFittingSide;
      log(`true-scale ${name}: ${native}x${native} refused before running: ${error.message}`);
    }
    if (generateSide !== null) side = Math.min(side, generateSide);
    if (stages.includes('generate'))
      rows.push(
        await measure(name, 'generate', ctx, log, async () => {
          let image: Awaited<ReturnType<Engine['generate']>>;
          // With one step the progress events split the time into text encoder + UNet, and the VAE decode.
          const started = performance.now();
          let decodeStarted = 0;
          try {
            image = await engine.generate(params(side), (p) => {
              if (p.phase === 'decode') decodeStarted = performance.now();
            });
          } catch (error) {
            if (!(error instanceof GpuOutOfMemoryError)) throw error;
            // The engine dropped its device; the stages after this one need the pack again.
            outOfMemory = error.message;
            return `${side}x${side}: ${error.message}`;
          }
          let sum = 0;
          let sumSquares = 0;
          for (let i = 0; i < image.rgba.length; i += 4) {
            sum += image.rgba[i];
            sumSquares += image.rgba[i] ** 2;
          }
          const pixels = image.rgba.length / 4;
          const mean = sum / pixels;
          const split = decodeStarted
            ? `text encoder + UNet ${((decodeStarted - started) / 1000).toFixed(0)} s, VAE decode ${((performance.now() - decodeStarted) / 1000).toFixed(0)} s; `
            : '';
          return `${image.width}x${image.height}, 1 DDIM step, guidance 7.5 (batch 2): ${split}red mean ${mean.toFixed(1)}, std ${Math.sqrt(sumSquares / pixels - mean ** 2).toFixed(1)}`;
        }),
      );
    if (outOfMemory !== null && stages.includes('erase')) {
      log(`true-scale ${name}: reloading the pack from the cache after running out of GPU memory`);
      await engine.loadPack(spec);
      engineCtx = await engine.gpu();
    }
    if (stages.includes('erase'))
      rows.push(
        await measure(name, 'erase', ctx, log, async () => {
          const templates = PROMPT_TEMPLATES.object.slice(0, eraseTemplates);
          const summary = await engine.erase({ ...ERASE_AIRPLANE, templates });
          return `RealEra, ${templates.length} of ${PROMPT_TEMPLATES.object.length} templates: ${summary.eraseVectors} erase / ${summary.preserveVectors} preserve vectors, ${summary.neighbors} neighbors, ${summary.beyond} beyond, rank ${summary.rank}, ${summary.solver}; encode ${(summary.ms.encode / 1000).toFixed(1)} s, solve ${(summary.ms.solve / 1000).toFixed(1)} s`;
        }),
      );
    if (stages.includes('erase') && stages.includes('export'))
      rows.push(
        await measure(name, 'export', ctx, log, async () => {
          const lora = await engine.exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp16' });
          return `kohya LoRA, exact rank ${lora.rank}, fp16, ${(lora.bytes.length / 2 ** 20).toFixed(1)} MiB`;
        }),
      );
    // Training runs on its own device after the engine (and every ORT session) is gone.
    await engine.dispose();
    let trainCtx: GpuContext | null = null;
    if (stages.includes('train'))
      rows.push(
        await measure(
          name,
          'train',
          () => trainCtx,
          log,
          async () => {
            const { device } = await acquireDevice(navigator.gpu, 'lethe-true-scale-training');
            trainCtx = new GpuContext(device);
            const watch = trainCtx.pool.watchPeak();
            try {
              const opened = await openPack(spec, { cache: await OpfsBlobCache.open(), offline: true });
              const setup = await setUpTraining(
                trainCtx,
                { manifest: opened.manifest, read: (path) => opened.files.bytes(path) },
                {
                  shape: { batch: 1, latentHeight: trainLatentSide, latentWidth: trainLatentSide },
                  fuseAttention: true,
                  memoryBudgetBytes: TRAINING_BUDGET_BYTES,
                },
              );
              try {
                const target = await targetOutput(trainCtx, setup);
                const started = performance.now();
                const { loss, grads, stats } = await trainingStep(trainCtx, setup, target);
                for (const g of grads) g.release();
                await trainCtx.sync();
                const stepSeconds = (performance.now() - started) / 1000;
                return `1x4x${trainLatentSide}x${trainLatentSide} latents, fused attention, budget ${(TRAINING_BUDGET_BYTES / 2 ** 30).toFixed(0)} GiB: ${stats.mode} [${stats.segments.join('/')}], step peak ${(stats.peakBytes / 2 ** 20).toFixed(0)} MiB over ${(setup.weightsBytes / 2 ** 20).toFixed(0)} MiB of weights, weights loaded in ${(setup.loadMs / 1000).toFixed(0)} s, one forward+backward ${stepSeconds.toFixed(0)} s, loss ${loss.toExponential(2)}; pool peak ${(watch.peakBytes / 2 ** 20).toFixed(0)} MiB`;
              } finally {
                setup.release();
              }
            } finally {
              watch.stop();
              trainCtx.destroy();
            }
          },
        ),
      );
    packs.push({
      pack: name,
      packBytes: model.pack.summary.bytes,
      fit: {
        largestBufferBytes: Math.max(fit.largestActivation.bytes, fit.largestWeight.bytes),
        largestBuffer: fit.largestActivation.bytes >= fit.largestWeight.bytes ? fit.largestActivation.what : fit.largestWeight.what,
        estimatedGpuBytes: fit.totalGpuBytes,
        largestFittingSide: fit.largestFittingSide,
        notes: fit.notes,
      },
      nativeSizeRefusal,
      stages: rows,
    });
  }
  return { maxBufferSize, packs };
}
