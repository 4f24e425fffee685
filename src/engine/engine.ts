import type {
  CacheInfo,
  EditEffect,
  EditSummary,
  EngineApi,
  EngineEvent,
  EraseRequest,
  GeneratedImage,
  GenerateParams,
  GenerateProgressEvent,
  GpuStatus,
  KernelCheck,
  LoraExportOptions,
  LoraImportSummary,
  PackLoadProgress,
  PackSourceSpec,
  PackSummary,
} from './api.ts';
import { releaseEdit, type ActiveEdit } from './active-edit.ts';
import { demoPackSource } from './demo-pack.ts';
import { JobQueue } from './job-queue.ts';
import { LoadedModel } from './loaded-model.ts';
import type { EnginePlatform } from './platform.ts';
import { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { acquireDevice, adapterProblems, WebGpuUnavailableError, type AdapterReport } from '../gpu/device.ts';
import { selfTest } from '../gpu/self-test.ts';
import { evaluate, type EvaluationProgressEvent, type EvaluationRequest, type EvaluationResult } from '../evaluation/evaluate.ts';
import type { EditReference } from '../evaluation/report.ts';
import type { BlobCache } from '../model/cache/blob-cache.ts';
import { cacheInfo, clearCache, openPack } from '../model/pack-opener.ts';
import { assertGenerationFits, assertPackFits, browserStorageFacts, type StorageFacts } from '../model/fit-check.ts';
import { generate } from '../pipeline/generate.ts';
import { initialLatents } from '../pipeline/noise.ts';
import type { OnnxRunner } from '../pipeline/onnx/runner.ts';
import { projectKv, type KvDeltas } from '../pipeline/unet/kv-projection.ts';
import { exportEditAsLora, type LoraExport } from '../erasure/lora-export.ts';
import { importLoraFile } from '../erasure/lora-import.ts';
import { checkCandidates, type EncoderCheck, type EncoderCheckRequest } from '../erasure/proposer/encoder-check.ts';
import type { UnetConditioning } from '../pipeline/unet/unet-runner.ts';
import { InputError } from '../util/errors.ts';
import { generationOutOfMemory } from './gpu-out-of-memory.ts';
import { sha256Hex } from '../util/sha256.ts';
import type { ClosedFormProblem, EditOperator } from '../erasure/closed-form.ts';
import { exactLoraUpsGpu, uploadEditFactors } from '../erasure/closed-form-gpu.ts';
import { buildErasureProblem, rebuildFromRecipe, solveErasure, type BuiltErasure, type ErasureContext, type ErasureEncoder } from '../erasure/problem-builder.ts';
import { parseRecipe, serializeRecipe, type ErasureRecipe } from '../erasure/recipe.ts';
import type { CrossAttentionLayer } from '../model/manifest.ts';
import { OpfsCheckpointStore, type CheckpointStore } from '../erasure/fine-tune/checkpoint-store.ts';
import { decodeCheckpoint } from '../erasure/fine-tune/fine-tune-checkpoint.ts';
import { runFineTune, type FineTuneModel, type TrainedLora } from '../erasure/fine-tune/fine-tune-loop.ts';
import { PauseGate } from '../erasure/fine-tune/pause-gate.ts';
import { combinedLoraLayers, exportTrainedLora, type ClosedFormFactors } from '../erasure/fine-tune/trained-lora.ts';
import { parseTrainingRecipe, readClosedFormFactors, uploadCombined } from '../erasure/fine-tune/training-edit.ts';
import type { SavedTraining, TrainingPreview, TrainProgressEvent, TrainRequest, TrainSummary } from '../erasure/fine-tune/train-request.ts';
import { parseSchedulerConfig } from '../pipeline/schedulers/scheduler-config.ts';

/** Prompts per text-encoder run while building an erasure. */
const ERASE_ENCODE_BATCH = 16;


/** The pack must be loaded before anything that runs it. */
export class NoPackLoadedError extends InputError {
  constructor() {
    super('No model is loaded: load the demo pack, a hub repo or a local folder first.');
  }
}

/**
 * Owns the GPUDevice, the loaded model and the current edit. One per worker (browser) or
 * process (CLI); the UI reaches it through comlink, the CLI directly. GPU jobs run one at a
 * time; a lost device is reported to subscribers and re-acquired on the next call.
 */
export class Engine implements EngineApi {
  private context: GpuContext | null = null;
  private report: AdapterReport | null = null;
  private acquiring: Promise<GpuStatus> | null = null;
  private lastStatus: GpuStatus | null = null;
  private onnx: OnnxRunner | null = null;
  private cache: BlobCache | null = null;
  private model: LoadedModel | null = null;
  private edit: ActiveEdit | null = null;
  /** Edits kept alive after being replaced, by id, so comparison columns can still generate with them. */
  private readonly keptEdits = new Map<string, ActiveEdit>();
  private readonly queue = new JobQueue();
  private readonly jobs = new Map<string, AbortController>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  /** Where training checkpoints go: OPFS in a browser, none in Node unless the CLI gives a folder. */
  private checkpoints: CheckpointStore | null = typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function' ? new OpfsCheckpointStore() : null;
  private readonly gates = new Map<string, PauseGate>();
  /** The last fine-tuning result, exportable while it is the current edit. */
  private trained: { editId: string; lora: TrainedLora; closedForm: ClosedFormFactors | null; recipe: ErasureRecipe } | null = null;

  constructor(private readonly platform: EnginePlatform) {}

  init(): Promise<GpuStatus> {
    if (this.context && !this.context.isLost && this.lastStatus) return Promise.resolve(this.lastStatus);
    this.acquiring ??= this.acquire().finally(() => {
      this.acquiring = null;
    });
    return this.acquiring;
  }

  async status(): Promise<GpuStatus> {
    return this.lastStatus ?? this.init();
  }

  async selfTest(): Promise<KernelCheck[]> {
    const ctx = await this.gpu();
    return this.queue.run(() => selfTest(ctx));
  }

  async subscribe(listener: (event: EngineEvent) => void): Promise<void> {
    this.listeners.add(listener);
  }

  async loadPack(spec: PackSourceSpec, onProgress?: (progress: PackLoadProgress) => void): Promise<PackSummary> {
    const report = (progress: PackLoadProgress) => {
      try {
        void Promise.resolve(onProgress?.(progress)).catch(() => undefined);
      } catch {
        // A progress listener that went away must not fail the load.
      }
    };
    const ctx = await this.gpu();
    let fitNotes: string[] = [];
    return this.queue.run(async () => {
      const opened = await openPack(spec, {
        cache: await this.blobCache(),
        onProgress: report,
        demoPack: (preset) => demoPackSource(preset, this.platform.shippedDemoPack),
        // Limits before work: a pack that cannot run here fails before a byte of it is downloaded.
        beforeDownload: async (manifest, cached) => {
          const adapter = (await this.runner()).sharesDevice ? this.report : null;
          fitNotes = assertPackFits({ manifest, adapter, storage: await this.storageFacts(), cached }).notes;
        },
      });
      if (fitNotes.length > 0) opened.summary.fitNotes = fitNotes;
      const totals = { bytesDone: 0, bytesTotal: 0, overallDone: opened.summary.bytes, overallTotal: opened.summary.bytes };
      const model = await LoadedModel.load(ctx, await this.runner(), opened, (file) => report({ phase: 'compile', file, ...totals }));
      // Only now does the new pack replace the old one: a failed load loses nothing.
      const previous = this.model;
      this.model = model;
      this.retireEdit(this.edit);
      this.edit = null;
      // Kept edits were made for the previous pack's weights.
      this.dropKeptEdits();
      await previous?.release();
      report({ phase: 'ready', ...totals });
      return opened.summary;
    });
  }

  async cacheInfo(): Promise<CacheInfo> {
    return cacheInfo(await this.blobCache());
  }

  async clearCache(): Promise<void> {
    await clearCache(await this.blobCache());
  }

  async generate(params: GenerateParams, onProgress?: (progress: GenerateProgressEvent) => void): Promise<GeneratedImage> {
    const controller = new AbortController();
    if (this.jobs.has(params.jobId)) throw new InputError(`generate: job ${params.jobId} is already running`);
    this.jobs.set(params.jobId, controller);
    const notify = (progress: GenerateProgressEvent) => void Promise.resolve(onProgress?.(progress)).catch(() => undefined);
    try {
      const ctx = await this.gpu();
      return await this.queue.run(async () => {
        controller.signal.throwIfAborted();
        const model = this.requireModel();
        const edit = params.variant === 'edited' ? this.editFor(params.editId) : null;
        const dims = model.pack.manifest.dims;
        const width = params.width ?? dims.sampleSize * dims.vaeScale;
        const height = params.height ?? dims.sampleSize * dims.vaeScale;
        const batch = params.guidance === 1 ? 1 : 2;
        // A size whose buffers exceed the adapter's limits fails here with the size that fits, not inside onnxruntime.
        const fit = this.report && (await this.runner()).sharesDevice ? assertGenerationFits(model.pack.manifest, this.report, width, height, batch) : null;
        // Older out-of-memory errors belong to calls that have already answered.
        ctx.takeOutOfMemory();
        const started = performance.now();
        let image: Awaited<ReturnType<Engine['render']>>;
        try {
          image = await this.render(ctx, model, edit, params, controller.signal, (progress) => notify({ jobId: params.jobId, ...progress }));
        } catch (error) {
          const gpuMessages = ctx.takeOutOfMemory();
          if (gpuMessages.length === 0) throw error;
          const outOfMemory = generationOutOfMemory({ manifest: model.pack.manifest, adapter: this.report, width, height, batch, gpuMessages, fit });
          await this.resetAfterOutOfMemory();
          throw outOfMemory;
        }
        return {
          jobId: params.jobId,
          variant: params.variant,
          width: image.width,
          height: image.height,
          rgba: image.rgba,
          seed: params.seed,
          ms: performance.now() - started,
          editId: edit?.id ?? null,
        };
      });
    } finally {
      this.jobs.delete(params.jobId);
    }
  }

  async keepEdit(editId: string): Promise<boolean> {
    return this.queue.run(async () => {
      if (this.edit?.id !== editId) return this.keptEdits.has(editId);
      // The same recipe computed again is a new object: the older copy is freed, not leaked.
      const older = this.keptEdits.get(editId);
      if (older && older !== this.edit) releaseEdit(older);
      this.keptEdits.set(editId, this.edit);
      return true;
    });
  }

  async releaseKeptEdit(editId: string): Promise<void> {
    await this.queue.run(async () => {
      const kept = this.keptEdits.get(editId);
      this.keptEdits.delete(editId);
      if (kept && kept !== this.edit) releaseEdit(kept);
    });
  }

  async evaluate(request: EvaluationRequest, onProgress?: (progress: EvaluationProgressEvent) => void): Promise<EvaluationResult> {
    if (this.jobs.has(request.jobId)) throw new InputError(`evaluate: job ${request.jobId} is already running`);
    const controller = new AbortController();
    this.jobs.set(request.jobId, controller);
    const notify = (progress: EvaluationProgressEvent) => void Promise.resolve(onProgress?.(progress)).catch(() => undefined);
    const { sampling } = request.protocol;
    let count = 0;
    try {
      const model = this.requireModel();
      return await evaluate(
        request,
        {
          runner: await this.runner(),
          pack: { id: model.pack.manifestSha256, description: model.pack.summary.description },
          describeEdit: (editId) => describeEdit(editId === undefined || editId === this.edit?.id ? this.edit : (this.keptEdits.get(editId) ?? null)),
          exclusive: (job) => this.queue.run(job),
          source: {
            // Each image is its own queued generate job, so a cancel stops the one running within a step.
            generate: async ({ prompt, seed, variant, editId }, signal) => {
              const jobId = `${request.jobId}:${count++}`;
              const stop = () => void this.cancel(jobId);
              signal.addEventListener('abort', stop);
              try {
                const image = await this.generate({ jobId, prompt, negativePrompt: sampling.negativePrompt, seed, steps: sampling.steps, guidance: sampling.guidance, scheduler: sampling.scheduler, variant, ...(editId ? { editId } : {}) });
                return { image, editId: image.editId };
              } finally {
                signal.removeEventListener('abort', stop);
              }
            },
          },
        },
        notify,
        controller.signal,
      );
    } finally {
      this.jobs.delete(request.jobId);
    }
  }

  /** The store training checkpoints go to (the CLI's --checkpoint folder); null: none. */
  useCheckpointStore(store: CheckpointStore | null): void {
    this.checkpoints = store;
  }

  async train(request: TrainRequest, onProgress?: (progress: TrainProgressEvent) => void): Promise<TrainSummary> {
    if (this.jobs.has(request.jobId)) throw new InputError(`train: job ${request.jobId} is already running`);
    const controller = new AbortController();
    const gate = new PauseGate();
    this.jobs.set(request.jobId, controller);
    this.gates.set(request.jobId, gate);
    const notify = (progress: TrainProgressEvent) => void Promise.resolve(onProgress?.(progress)).catch(() => undefined);
    try {
      const ctx = await this.gpu();
      return await this.queue.run(async () => {
        const model = this.requireModel();
        const recipe = parseTrainingRecipe(request.recipe, 'recipe');
        if (recipe.pack.sha256 !== model.pack.manifestSha256)
          throw new InputError(`recipe: pack.sha256: the recipe was made for pack ${recipe.pack.sha256.slice(0, 12)}, the loaded pack is ${model.pack.manifestSha256.slice(0, 12)}; load its pack first`);
        const recipeText = serializeRecipe(recipe);
        const recipeSha256 = await sha256Hex(new TextEncoder().encode(recipeText));
        const layers = model.weights.layers;
        let closedForm: ClosedFormFactors | null = null;
        let baseDeltas: KvDeltas | undefined;
        if (recipe.fineTune.base === 'closed-form') {
          const built = await rebuildFromRecipe(recipe, this.erasureEncoder(ctx, model), this.erasureContext(model));
          await this.activateClosedForm(ctx, model, built, performance.now());
          baseDeltas = this.edit!.deltas;
          closedForm = await readClosedFormFactors(ctx, baseDeltas, layers.length);
        }
        const fineTuneModel: FineTuneModel = {
          manifest: model.pack.manifest,
          read: (path) => model.pack.files.bytes(path),
          weights: model.weights,
          schedulerConfig: parseSchedulerConfig(model.schedulerConfig, 'ddim'),
          encode: (prompts) => model.encode(ctx, prompts),
          frozenUnet: {
            conditioned: async (embedding) => {
              const conditioning = await this.conditionEmbedding(ctx, model, embedding, undefined);
              return { predict: (latents, shape, timestep) => model.unet.predict(latents, shape, timestep, conditioning), release: () => conditioning.release() };
            },
          },
        };
        // The "after" image of the LoRA so far: closed-form and trained factors as the finished
        // edit will apply them, one image with the preview's seed, sent with that step's progress.
        const preview = request.preview && request.preview.every > 0 ? request.preview : undefined;
        let pendingPreview: TrainingPreview | null = null;
        const takePreview = async (step: number, lora: TrainedLora): Promise<void> => {
          const deltas = uploadCombined(ctx, combinedLoraLayers(lora, closedForm), (module) => layers.findIndex((l) => l.module === module));
          try {
            const image = await this.render(ctx, model, { deltas }, { ...preview!, variant: 'edited' }, controller.signal, () => undefined);
            pendingPreview = { step, ...image, seed: preview!.seed, prompt: preview!.prompt };
          } finally {
            releaseEdit({ deltas });
          }
        };
        const result = await runFineTune(ctx, fineTuneModel, {
          recipe,
          recipeSha256,
          baseDeltas,
          store: this.checkpoints ?? undefined,
          checkpointEvery: request.checkpointEvery ?? 10,
          resume: request.resume,
          stopAfter: request.stopAfter,
          snapshot: preview ? { every: preview.every, take: takePreview } : undefined,
          onProgress: (p) => {
            notify({ jobId: request.jobId, ...p, ...(pendingPreview?.step === p.step ? { preview: pendingPreview } : {}) });
            pendingPreview = null;
          },
          control: { signal: controller.signal, gate: () => gate.wait(controller.signal) },
        });
        const combined = combinedLoraLayers(result.lora, closedForm);
        const deltas = uploadCombined(ctx, combined, (module) => layers.findIndex((l) => l.module === module));
        const editId = await sha256Hex(new TextEncoder().encode(`trained:${recipeSha256}:${result.steps}`));
        releaseEdit(this.edit);
        this.edit = { kind: 'lora', id: editId, deltas, summary: { fileName: `trained ${recipe.fineTune.objective}`, strength: 1, applied: combined.map((l) => `${l.module}.${l.projection}`), notApplied: [], editId } };
        this.trained = { editId, lora: result.lora, closedForm, recipe };
        return {
          jobId: request.jobId,
          editId,
          recipe: recipeText,
          steps: result.steps,
          resumedAt: result.resumedAt,
          losses: result.losses.map((l) => ({ step: l.step, loss: l.loss, groups: { ...l.groups } })),
          seconds: result.seconds,
          rank: combined[0]?.rank ?? 0,
        };
      });
    } finally {
      this.jobs.delete(request.jobId);
      this.gates.delete(request.jobId);
    }
  }

  /** Holds a running train() before its next step (the state stays on the GPU). */
  async pauseTraining(jobId: string): Promise<void> {
    this.gates.get(jobId)?.pause();
  }

  async resumeTraining(jobId: string): Promise<void> {
    this.gates.get(jobId)?.resume();
  }

  /** The saved checkpoint of a training recipe, if the checkpoint store holds one (the studio offers to resume it). */
  async savedTraining(recipeJson: string): Promise<SavedTraining | null> {
    if (!this.checkpoints) return null;
    const recipe = parseTrainingRecipe(recipeJson, 'recipe');
    const text = serializeRecipe(recipe);
    const sha = await sha256Hex(new TextEncoder().encode(text));
    const bytes = await this.checkpoints.read(`${sha}.ckpt`);
    if (!bytes) return null;
    const checkpoint = decodeCheckpoint(bytes, `${this.checkpoints.description}/${sha}.ckpt`);
    return { recipe: text, step: checkpoint.step, steps: recipe.fineTune.steps, losses: checkpoint.losses.map((l) => ({ step: l.step, loss: l.loss, groups: { ...l.groups } })) };
  }

  async cancel(jobId: string): Promise<void> {
    this.jobs.get(jobId)?.abort(new DOMException(`generation ${jobId} was cancelled`, 'AbortError'));
  }

  async erase(request: EraseRequest): Promise<EditSummary> {
    const ctx = await this.gpu();
    return this.queue.run(async () => {
      const model = this.requireModel();
      const started = performance.now();
      const built = await buildErasureProblem(request, this.erasureEncoder(ctx, model), this.erasureContext(model));
      return this.activateClosedForm(ctx, model, built, started);
    });
  }

  async checkCandidates(request: EncoderCheckRequest): Promise<EncoderCheck> {
    const ctx = await this.gpu();
    return this.queue.run(async () => {
      const model = this.requireModel();
      const { width, tokens } = this.erasureContext(model);
      return checkCandidates({ encoder: this.erasureEncoder(ctx, model), tokens, width }, request);
    });
  }

  async applyRecipe(recipeJson: string): Promise<EditSummary> {
    const ctx = await this.gpu();
    return this.queue.run(async () => {
      const model = this.requireModel();
      const started = performance.now();
      const recipe = parseRecipe(recipeJson, 'recipe');
      // Rebuilding would apply only its closed-form part: a trained edit lives in its LoRA file.
      if (recipe.fineTune)
        throw new InputError(
          `recipe: fineTune: this recipe describes a fine-tuning run (${recipe.fineTune.objective}, ${recipe.fineTune.steps} steps), whose result is a LoRA file, not a closed-form edit; open the LoRA that run wrote (--lora, or "Open LoRA" in the studio), or train it again (lethe train --recipe)`,
        );
      const built = await rebuildFromRecipe(recipe, this.erasureEncoder(ctx, model), this.erasureContext(model));
      return this.activateClosedForm(ctx, model, built, started);
    });
  }

  /** The current closed-form edit with the problem it solved (CLI: --weights, --dump, export). */
  currentEdit(): { operator: EditOperator; problem: ClosedFormProblem; recipe: ErasureRecipe } | null {
    return this.edit?.kind === 'closed-form' ? { operator: this.edit.operator, problem: this.edit.problem, recipe: this.edit.recipe } : null;
  }

  /** Every attn2 to_k/to_v weight on the CPU ([out, in] float32), in layer order. */
  crossAttentionHostWeights(): { layers: CrossAttentionLayer[]; host: { toK: Float32Array; toV: Float32Array }[] } {
    const model = this.requireModel();
    return { layers: [...model.weights.layers], host: model.weights.host };
  }

  async clearEdit(): Promise<void> {
    await this.queue.run(async () => {
      this.retireEdit(this.edit);
      this.edit = null;
    });
  }

  async measureEdit(prompts: string[], options: { seed?: number; timestep?: number } = {}): Promise<EditEffect[]> {
    const ctx = await this.gpu();
    return this.queue.run(async () => {
      const model = this.requireModel();
      const dims = model.pack.manifest.dims;
      const shape = [1, dims.latentChannels, dims.sampleSize, dims.sampleSize] as const;
      const latents = initialLatents(options.seed ?? 0, shape, 1);
      const timestep = options.timestep ?? 500;
      const effects: EditEffect[] = [];
      for (const prompt of prompts) {
        const predict = async (edit: ActiveEdit | null) => {
          const conditioning = await this.condition(ctx, model, edit, [prompt]);
          try {
            return await model.unet.predict(latents, shape, timestep, conditioning);
          } finally {
            conditioning.release();
          }
        };
        const original = await predict(null);
        const edited = await predict(this.edit);
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < original.length; i++) {
          diff += (edited[i] - original[i]) ** 2;
          norm += original[i] ** 2;
        }
        effects.push({ prompt, relativeChange: Math.sqrt(diff / Math.max(norm, 1e-30)) });
      }
      return effects;
    });
  }

  async exportLora(options: LoraExportOptions): Promise<LoraExport> {
    return this.queue.run(async () => {
      const model = this.requireModel();
      const edit = this.edit;
      // A fine-tuned edit: the factors the studio applies (closed-form and trained side by side).
      if (this.trained && edit?.id === this.trained.editId) {
        return exportTrainedLora({ ...this.trained, packSha256: model.pack.manifestSha256, family: model.pack.manifest.family }, options);
      }
      if (edit?.kind !== 'closed-form') {
        throw new InputError(edit ? 'The current edit is an imported LoRA: export it from the tool that made it, or erase a concept first.' : 'Nothing to export: erase a concept first.');
      }
      const { manifest, manifestSha256 } = model.pack;
      const ctx = await this.gpu();
      // The factors the edited images were made with, so an exact export re-imports bit for bit.
      const ups = [];
      for (let layer = 0; layer < model.weights.layers.length; layer++) {
        ups.push({ toK: await ctx.read(edit.deltas.toK.get(layer)!.up), toV: await ctx.read(edit.deltas.toV.get(layer)!.up) });
      }
      return exportEditAsLora(
        { operator: edit.operator, layers: model.weights.layers, host: model.weights.host, ups, recipe: edit.recipe, packSha256: manifestSha256, family: manifest.family },
        options,
      );
    });
  }

  async importLora(bytes: Uint8Array, fileName: string, strength: number): Promise<LoraImportSummary> {
    const ctx = await this.gpu();
    return this.queue.run(async () => {
      const model = this.requireModel();
      if (!Number.isFinite(strength)) throw new InputError(`LoRA strength must be a number, got ${strength}`);
      const imported = importLoraFile(bytes, fileName, strength, { layers: model.weights.layers, family: model.pack.manifest.family });
      const deltas: KvDeltas = { toK: new Map(), toV: new Map() };
      for (const delta of imported.deltas) {
        const target = delta.projection === 'to_k' ? deltas.toK : deltas.toV;
        target.set(delta.layer, {
          up: ctx.upload(delta.up, [delta.outFeatures, delta.rank]),
          down: ctx.upload(delta.down, [delta.rank, delta.inFeatures]),
          scale: delta.scale,
        });
      }
      const id = await sha256Hex(concatBytes(new TextEncoder().encode(`lora:${strength}:`), bytes));
      const summary: LoraImportSummary = { fileName, strength, applied: imported.applied, notApplied: imported.notApplied, editId: id };
      this.retireEdit(this.edit);
      this.edit = { kind: 'lora', id, deltas, summary };
      return summary;
    });
  }

  /** The live context, re-acquiring the device after a loss. */
  async gpu(): Promise<GpuContext> {
    const status = await this.init();
    if (status.state !== 'ready' || !this.context) throw new WebGpuUnavailableError(status.state === 'unavailable' ? status.message : 'no GPU', status.state === 'unavailable' ? status.advice : []);
    return this.context;
  }

  get adapter(): AdapterReport | null {
    return this.report;
  }

  /** The loaded model (CLI and tests). */
  get loadedModel(): LoadedModel | null {
    return this.model;
  }

  get activeEdit(): ActiveEdit | null {
    return this.edit;
  }

  async dispose(): Promise<void> {
    await this.releaseModelAndDevice();
    this.context = null;
  }

  /** Frees the edits, the model and the device (dispose, and the reset after running out of memory). */
  private async releaseModelAndDevice(): Promise<void> {
    this.trained = null;
    this.retireEdit(this.edit);
    this.edit = null;
    this.dropKeptEdits();
    await this.model?.release();
    this.model = null;
    this.onnx = null;
    this.context?.destroy();
  }

  private erasureEncoder(ctx: GpuContext, model: LoadedModel): ErasureEncoder {
    const tokens = model.pack.manifest.dims.textTokens;
    const width = model.pack.manifest.dims.textHidden;
    return {
      tokenize: (text) => model.tokenizer.tokenize(text),
      encode: async (prompts) => {
        // Batches keep the text encoder's activations small on real models.
        const out: Float32Array[] = [];
        for (let start = 0; start < prompts.length; start += ERASE_ENCODE_BATCH) {
          const batch = prompts.slice(start, start + ERASE_ENCODE_BATCH);
          const embedding = await model.encode(ctx, batch);
          const values = await ctx.read(embedding);
          embedding.release();
          for (let i = 0; i < batch.length; i++) out.push(values.slice(i * tokens * width, (i + 1) * tokens * width));
        }
        return out;
      },
    };
  }

  private erasureContext(model: LoadedModel): ErasureContext {
    const { manifest, manifestSha256 } = model.pack;
    return { width: manifest.dims.textHidden, tokens: manifest.dims.textTokens, packSha256: manifestSha256, family: manifest.family };
  }

  private async activateClosedForm(ctx: GpuContext, model: LoadedModel, built: BuiltErasure, started: number): Promise<EditSummary> {
    const solved = solveErasure(built);
    const recipe = serializeRecipe(solved.recipe);
    const id = await sha256Hex(new TextEncoder().encode(recipe));
    const summary: EditSummary = {
      id,
      recipe,
      eraseVectors: built.stats.eraseVectors,
      preserveVectors: built.stats.preserveVectors,
      rank: solved.operator.rank,
      neighbors: built.stats.neighbors,
      beyond: built.stats.beyond,
      solver: solved.operator.solver,
      ms: { encode: built.ms.encode, sample: built.ms.sample, solve: solved.ms, total: performance.now() - started },
    };
    const factors = uploadEditFactors(ctx, solved.operator);
    const upsK = exactLoraUpsGpu(ctx, factors, model.weights.toK);
    const upsV = exactLoraUpsGpu(ctx, factors, model.weights.toV);
    factors.u.release();
    const deltas: KvDeltas = {
      toK: new Map(upsK.map((up, layer) => [layer, { up, down: factors.vt, scale: 1 }])),
      toV: new Map(upsV.map((up, layer) => [layer, { up, down: factors.vt, scale: 1 }])),
    };
    await ctx.sync();
    summary.ms.total = performance.now() - started;
    const next: ActiveEdit = { kind: 'closed-form', id, operator: solved.operator, problem: built.problem, recipe: solved.recipe, deltas, summary };
    this.retireEdit(this.edit);
    this.edit = next;
    return summary;
  }

  /** One image under `edit` (null: the original model) with the pack's generation runtime. */
  private async render(
    ctx: GpuContext,
    model: LoadedModel,
    edit: Pick<ActiveEdit, 'deltas'> | null,
    params: Pick<GenerateParams, 'prompt' | 'negativePrompt' | 'seed' | 'steps' | 'guidance' | 'scheduler' | 'width' | 'height'> & { variant: GenerateParams['variant'] },
    signal: AbortSignal | undefined,
    notify: (progress: Omit<GenerateProgressEvent, 'jobId'>) => void,
  ): Promise<{ width: number; height: number; rgba: Uint8ClampedArray }> {
    const dims = model.pack.manifest.dims;
    notify({ phase: 'encode', step: 0, steps: params.steps });
    const result = await generate(
      {
        prompt: params.prompt,
        negativePrompt: params.negativePrompt ?? '',
        seed: params.seed,
        steps: params.steps,
        guidance: params.guidance,
        scheduler: params.scheduler,
        width: params.width ?? dims.sampleSize * dims.vaeScale,
        height: params.height ?? dims.sampleSize * dims.vaeScale,
        variant: params.variant,
      },
      {
        latentSpace: dims,
        schedulerConfig: model.schedulerConfig,
        conditioner: {
          condition: async (request) => this.condition(ctx, model, edit, request.unconditional ? [request.negativePrompt, request.prompt] : [request.prompt]),
          release: (conditioning) => conditioning.release(),
        },
        predictor: { predict: (latents, shape, timestep, conditioning) => model.unet.predict(latents, shape, timestep, conditioning) },
        decoder: { decode: async (latents, shape) => (await model.vae.decode(latents, shape)).pixels },
      },
      { signal, onProgress: (progress) => notify({ phase: progress.phase, step: progress.step, steps: progress.steps }) },
    );
    return result.image;
  }

  /** K/V of every cross-attention layer for `prompts`, under `edit`, as UNet inputs. */
  private async condition(ctx: GpuContext, model: LoadedModel, edit: Pick<ActiveEdit, 'deltas'> | null, prompts: string[]): Promise<UnetConditioning> {
    const embedding = await model.encode(ctx, prompts);
    try {
      return await this.conditionEmbedding(ctx, model, embedding, edit?.deltas);
    } finally {
      embedding.release();
    }
  }

  /** K/V of `embedding` (the caller keeps it), under `deltas`, as UNet inputs; release() frees both. */
  private async conditionEmbedding(ctx: GpuContext, model: LoadedModel, embedding: GpuTensor, deltas: KvDeltas | undefined): Promise<UnetConditioning> {
    const kv = projectKv(ctx, embedding, model.weights, deltas);
    // ORT reads K/V from our buffers: our writes must be submitted before its commands.
    ctx.flush();
    let conditioning: UnetConditioning;
    try {
      conditioning = await model.unet.conditioning(ctx, kv);
    } catch (error) {
      kv.release();
      throw error;
    }
    return {
      feeds: conditioning.feeds,
      release() {
        conditioning.release();
        kv.release();
      },
    };
  }

  private requireModel(): LoadedModel {
    if (!this.model) throw new NoPackLoadedError();
    return this.model;
  }

  private async runner(): Promise<OnnxRunner> {
    const ctx = await this.gpu();
    this.onnx ??= await this.platform.onnxRunner(ctx.device);
    return this.onnx;
  }

  /** The storage quota and usage (the platform's, else navigator.storage.estimate()); null where there is none. */
  private async storageFacts(): Promise<StorageFacts | null> {
    if (this.platform.storage) return this.platform.storage();
    return browserStorageFacts();
  }

  private async blobCache(): Promise<BlobCache> {
    this.cache ??= await this.platform.blobCache();
    return this.cache;
  }

  private async acquire(): Promise<GpuStatus> {
    const recovering = this.context?.isLost === true;
    try {
      const { device, report } = await acquireDevice(await this.platform.gpu());
      this.context = new GpuContext(device);
      this.onnx = null;
      this.report = report;
      this.context.onDeviceLost((info) => this.emit({ type: 'device-lost', reason: info.reason, message: info.message }));
      this.lastStatus = { state: 'ready', report, problems: adapterProblems(report) };
      if (recovering) {
        // Everything on the old device is gone; the pack reloads from the cache on the next load.
        this.model = null;
        this.edit = null;
        this.keptEdits.clear();
        this.emit({ type: 'device-restored', report });
      }
    } catch (error) {
      this.context = null;
      this.lastStatus =
        error instanceof WebGpuUnavailableError
          ? { state: 'unavailable', message: error.message, advice: error.advice }
          : { state: 'unavailable', message: `WebGPU device could not be created: ${(error as Error).message}`, advice: [] };
    }
    return this.lastStatus;
  }

  /**
   * After a failed allocation the device holds invalid buffers that pools (ours, onnxruntime-web's)
   * would hand out again: drop it all. The next call acquires a new device and, as after a device
   * loss, reports device-restored so the studio reloads the pack from the cache.
   */
  private async resetAfterOutOfMemory(): Promise<void> {
    // The context stays (lost): acquire() sees it and reports device-restored.
    await this.releaseModelAndDevice().catch(() => undefined);
  }

  /** The edit an 'edited' job uses: the current one, or the kept edit it names. */
  private editFor(editId: string | undefined): ActiveEdit | null {
    if (editId === undefined || editId === this.edit?.id) return this.edit;
    const kept = this.keptEdits.get(editId);
    if (!kept) throw new InputError(`generate: editId: the edit ${editId.slice(0, 12)} is neither current nor kept (keepEdit it while it is current)`);
    return kept;
  }

  /** Frees a replaced edit's GPU factors unless a comparison still keeps it. */
  private retireEdit(edit: ActiveEdit | null): void {
    if (edit && this.keptEdits.get(edit.id) === edit) return;
    releaseEdit(edit);
  }

  private dropKeptEdits(): void {
    for (const kept of this.keptEdits.values()) if (kept !== this.edit) releaseEdit(kept);
    this.keptEdits.clear();
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** An edit as an evaluation report records it: a recipe (embedded, it recomputes the edit) or an imported LoRA (by id). */
function describeEdit(edit: ActiveEdit | null): EditReference | null {
  if (!edit) return null;
  if (edit.kind === 'closed-form') return { kind: 'recipe', id: edit.id, recipe: edit.summary.recipe };
  return { kind: 'lora', id: edit.id, fileName: edit.summary.fileName, strength: edit.summary.strength };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
