/**
 * The one training loop every objective shares. Per step: the objective's plan (loss-terms.ts),
 * each sample's z_t (training-latents.ts), and per loss term
 *   K_l, V_l = E W_lᵀ (+ the closed-form delta, when training starts from it) + s E Aᵀ Bᵀ,
 *   eps = UNet(z_t, t, K, V)  (TrainingChain, recorded for backward),
 *   target from the frozen original UNet (the same WGSL pieces, nothing recorded),
 *   loss_term = w mean((eps - target)^2),  dL/d eps = 2 w (eps - target) / n,
 * then dL/dK, dL/dV from the backward sweep and dA, dB from them (autograd/lora.ts), summed over
 * terms and averaged over the batch, and one Adam step on every factor.
 *
 * Reproducible: every random choice is a pure function of (seed, step), LoRA factors start from
 * seeded draws, and the GPU work is the same sequence of kernels, so the same recipe gives the
 * same factor bits on the same adapter; a checkpoint holds factors, Adam's moments and step
 * count exactly, so a resumed run continues bit for bit. A non-finite loss stops the run before
 * the update (TrainingDivergedError), leaving the last checkpoint as it was.
 */
import type { GpuContext } from '../../gpu/context.ts';
import { binary } from '../../gpu/kernels/binary.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { initLora, loraBackward, loraForward, type LoraFactors } from '../../autograd/lora.ts';
import { Adam } from '../../autograd/optim/adam.ts';
import { TrainingChain } from '../../training/training-chain.ts';
import { loadUnetPieces, runPieces } from '../../training/unet-pieces.ts';
import type { PackReader } from '../../model/pack-reader.ts';
import type { CrossAttentionLayer, PackManifest } from '../../model/manifest.ts';
import type { SchedulerConfig } from '../../pipeline/schedulers/scheduler-config.ts';
import { projectKv, type KvDeltas } from '../../pipeline/unet/kv-projection.ts';
import type { CrossAttentionWeights } from '../../pipeline/unet/cross-attention-weights.ts';
import { InputError } from '../../util/errors.ts';
import { REALERA_DEFAULTS } from '../realera.ts';
import type { ErasureRecipe } from '../recipe.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { decodeCheckpoint, encodeCheckpoint, type StepLoss } from './fine-tune-checkpoint.ts';
import type { FineTuneOptions } from './fine-tune-options.ts';
import { describeConditioning, type Conditioning, type LossGroup, type LossTarget } from './loss-terms.ts';
import type { ObjectiveContext } from './objective.ts';
import { objectiveFor } from './objectives.ts';
import { realEraWindow } from './realera-alignment.ts';
import { TrainingLatents, type FrozenDenoiser } from './training-latents.ts';

/** What the loop needs of a loaded pack (the engine's LoadedModel provides it). */
export interface FineTuneModel {
  readonly manifest: Pick<PackManifest, 'dims' | 'pieces'>;
  readonly read: PackReader['bytes'];
  /** The original attn2 to_k / to_v weights on the GPU, in layer order. */
  readonly weights: Pick<CrossAttentionWeights, 'layers' | 'toK' | 'toV'>;
  readonly schedulerConfig: SchedulerConfig;
  /** Text embeddings [n, tokens, width] of `prompts`, on the GPU (the caller releases). */
  encode(prompts: readonly string[]): Promise<GpuTensor>;
  /**
   * The frozen original UNet in the generation runtime, when the caller has one. Most of a step's
   * UNet evaluations are frozen (denoising z_t, the targets), and the generation runtime is the
   * faster path for them (onnxruntime on the CPU in Node: about 70 times our unfused WGSL
   * executor on SwiftShader); without it they run on the training executor's pieces.
   */
  readonly frozenUnet?: FrozenUnet;
}

/** eps_orig for one text embedding, made ready once (K/V of the original weights). */
export interface FrozenUnet {
  conditioned(embedding: GpuTensor): Promise<FrozenPrediction>;
}

export interface FrozenPrediction {
  /** eps_orig(latents, t) for latents [1, c, h, w]. */
  predict(latents: Float32Array, shape: readonly number[], timestep: number): Promise<Float32Array>;
  release(): void;
}

/** A non-finite loss: the run stops before the update; its last checkpoint is kept. */
export class TrainingDivergedError extends InputError {
  constructor(
    readonly step: number,
    readonly learningRate: number,
    readonly loss: number,
  ) {
    super(`Training diverged at step ${step + 1}: the loss is ${loss} with learning rate ${learningRate}. The last good checkpoint is kept; lower the learning rate (or raise the gradient clip) and start again.`);
  }
}

export interface FineTuneProgress {
  /** Steps done (1 after the first step). */
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly groups: Partial<Record<LossGroup, number>>;
  readonly stepsPerSecond: number;
  readonly etaSeconds: number;
  /** Set when this step wrote a checkpoint. */
  readonly checkpointed: boolean;
}

export interface FineTuneControl {
  readonly signal?: AbortSignal;
  /** Awaited before each step: resolves at once, or when a paused run is resumed. */
  readonly gate?: () => Promise<void>;
}

export interface FineTuneRun {
  readonly recipe: ErasureRecipe & { readonly fineTune: FineTuneOptions };
  /** sha256 of the canonical recipe: names the run in its checkpoint. */
  readonly recipeSha256: string;
  /** The closed-form edit's deltas (required when fineTune.base is 'closed-form'). */
  readonly baseDeltas?: KvDeltas;
  readonly store?: CheckpointStore;
  /** File name in the store (default: the recipe hash). */
  readonly checkpointName?: string;
  /** A checkpoint every this many steps, and after the last (0: never). */
  readonly checkpointEvery?: number;
  /** Continue from the store's checkpoint when there is one. */
  readonly resume?: boolean;
  /** Stop after this step count (a pause at a fixed point for tests; default fineTune.steps). */
  readonly stopAfter?: number;
  readonly memoryBudgetBytes?: number;
  /** Awaited after every `every` steps (and after the last), before that step's progress: the factors as they are then. */
  readonly snapshot?: { readonly every: number; take(step: number, lora: TrainedLora): Promise<void> };
  readonly onProgress?: (progress: FineTuneProgress) => void;
  readonly control?: FineTuneControl;
}

/** Trained factors of one projection on the CPU: delta = (alpha / rank) B A. */
export interface TrainedProjection {
  readonly a: Float32Array;
  readonly b: Float32Array;
}

export interface TrainedLora {
  readonly layers: readonly CrossAttentionLayer[];
  readonly rank: number;
  readonly alpha: number;
  readonly toK: readonly TrainedProjection[];
  readonly toV: readonly TrainedProjection[];
}

export interface FineTuneResult {
  readonly lora: TrainedLora;
  readonly losses: readonly StepLoss[];
  /** Steps done (fineTune.steps unless stopAfter cut the run short). */
  readonly steps: number;
  /** The step the run started at (> 0 when resumed). */
  readonly resumedAt: number;
  readonly seconds: number;
}

/** Runs (or resumes) a fine-tuning recipe; resolves with the trained factors on the CPU. */
export async function runFineTune(ctx: GpuContext, model: FineTuneModel, run: FineTuneRun): Promise<FineTuneResult> {
  const options = run.recipe.fineTune;
  if (options.base === 'closed-form' && !run.baseDeltas) throw new InputError('fine-tune: fineTune.base is "closed-form", but no closed-form edit was given to start from');
  const { dims } = model.manifest;
  const shape = { batch: 1, latentHeight: options.latentSize, latentWidth: options.latentSize };
  const latentShape = [1, dims.latentChannels, options.latentSize, options.latentSize] as const;
  const graphs = await loadUnetPieces(ctx, model.manifest, model.read, shape, { fuseAttention: true });
  const owned: GpuTensor[] = [];
  const embeddings = new Map<string, GpuTensor>();
  const frozenByText = new Map<string, Promise<FrozenPrediction>>();
  let adam: Adam | null = null;
  try {
    const chain = new TrainingChain(ctx, graphs, { memoryBudgetBytes: run.memoryBudgetBytes });
    const layers = model.weights.layers;
    const factor = (projection: 'k' | 'v', i: number): LoraFactors => {
      const spec = projection === 'k' ? layers[i].toK : layers[i].toV;
      const [out, inFeatures] = spec.shape;
      // One seeded draw per projection: A ~ N(0, 1/in), B = 0 (the adapted model starts as the base).
      const lora = initLora(ctx, inFeatures, out, options.rank, options.alpha, (options.seed * 2654435761 + 2 * i + (projection === 'v' ? 1 : 0)) >>> 0);
      owned.push(lora.a, lora.b);
      return lora;
    };
    const loraK = layers.map((_, i) => factor('k', i));
    const loraV = layers.map((_, i) => factor('v', i));
    const parameters = [...loraK, ...loraV].flatMap((l) => [l.a, l.b]);
    adam = new Adam(ctx, parameters, { learningRate: options.learningRate, maxGradNorm: options.maxGradNorm });
    const names = parameterNames(layers.length);

    // Resume: factors, moments and history from the store, when its checkpoint is this run's.
    const checkpointName = run.checkpointName ?? `${run.recipeSha256}.ckpt`;
    let losses: StepLoss[] = [];
    let start = 0;
    if (run.resume && run.store) {
      const bytes = await run.store.read(checkpointName);
      if (bytes) {
        const checkpoint = decodeCheckpoint(bytes, `${run.store.description}/${checkpointName}`);
        if (checkpoint.recipeSha256 !== run.recipeSha256) throw new InputError(`fine-tune: the checkpoint ${checkpointName} belongs to another recipe (${checkpoint.recipeSha256.slice(0, 12)}, this one is ${run.recipeSha256.slice(0, 12)}); start without resume or pick its recipe`);
        const tensor = (name: string, size: number): Float32Array => {
          const t = checkpoint.tensors.get(name);
          if (!t || t.data.length !== size) throw new InputError(`fine-tune: checkpoint ${checkpointName}: ${name} ${t ? `has ${t.data.length} values, expected ${size}` : 'is missing'}`);
          return t.data;
        };
        parameters.forEach((p, i) => ctx.writeTensor(p, tensor(names[i], p.size)));
        adam.importState({ steps: checkpoint.adamSteps, m: parameters.map((p, i) => tensor(`adam.m.${names[i]}`, p.size)), v: parameters.map((p, i) => tensor(`adam.v.${names[i]}`, p.size)) });
        losses = [...checkpoint.losses];
        start = checkpoint.step;
      }
    }

    const embed = async (cond: Conditioning): Promise<GpuTensor> => {
      if (cond.kind === 'embedding') return ctx.upload(cond.values, [1, dims.textTokens, dims.textHidden]);
      let e = embeddings.get(cond.text);
      if (!e) {
        e = await model.encode([cond.text]);
        embeddings.set(cond.text, e);
      }
      return e;
    };
    const releaseEmbedding = (cond: Conditioning, e: GpuTensor) => {
      if (cond.kind === 'embedding') e.release();
    };
    const inputs = (latents: GpuTensor, timestep: GpuTensor, keys: readonly GpuTensor[], values: readonly GpuTensor[]): Map<string, GpuTensor> => {
      const given = new Map<string, GpuTensor>([
        ['sample', latents],
        ['timestep', timestep],
      ]);
      keys.forEach((k, i) => given.set(`k_${i}`, k));
      values.forEach((v, i) => given.set(`v_${i}`, v));
      return given;
    };
    const wgslFrozen = async (latents: Float32Array, t: number, e: GpuTensor): Promise<Float32Array> => {
      const kv = projectKv(ctx, e, model.weights as CrossAttentionWeights);
      const sample = ctx.upload(latents, latentShape);
      const timestep = ctx.upload([t], [1]);
      const outputs = runPieces(graphs, inputs(sample, timestep, kv.keys, kv.values));
      try {
        return await ctx.read(outputs.values.get('out_sample')!);
      } finally {
        outputs.release();
        kv.release();
        sample.release();
        timestep.release();
      }
    };
    const frozen: FrozenDenoiser = {
      async predict(latents, t, cond) {
        const runtime = model.frozenUnet;
        if (!runtime) {
          const e = await embed(cond);
          try {
            return await wgslFrozen(latents, t, e);
          } finally {
            releaseEmbedding(cond, e);
          }
        }
        // Each text's frozen predictor is made once per run (embedding conditionings are one-off).
        if (cond.kind === 'text') {
          let predictor = frozenByText.get(cond.text);
          if (!predictor) {
            predictor = embed(cond).then((e) => runtime.conditioned(e));
            frozenByText.set(cond.text, predictor);
          }
          return (await predictor).predict(latents, latentShape, t);
        }
        const e = await embed(cond);
        const predictor = await runtime.conditioned(e).finally(() => releaseEmbedding(cond, e));
        try {
          return await predictor.predict(latents, latentShape, t);
        } finally {
          predictor.release();
        }
      },
    };
    const trainingLatents = new TrainingLatents(frozen, model.schedulerConfig, { seed: options.seed, latentSteps: options.latentSteps, latentGuidance: options.latentGuidance, shape: latentShape });
    const embedText = async (prompt: string): Promise<Float32Array> => ctx.read(await embed({ kind: 'text', text: prompt }));
    const objectiveContext: ObjectiveContext = {
      options,
      concepts: run.recipe.concepts,
      templates: run.recipe.prompts.templates,
      realera: options.objective === 'realera' ? await realEraWindow(run.recipe, embedText) : REALERA_DEFAULTS,
      numTrainTimesteps: model.schedulerConfig.numTrainTimesteps,
      embed: embedText,
    };
    const objective = objectiveFor(options.objective);

    const saveCheckpoint = async (step: number): Promise<void> => {
      if (!run.store) return;
      const state = await adam!.exportState();
      const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
      for (const [i, p] of parameters.entries()) tensors.set(names[i], { shape: p.shape, data: await ctx.read(p) });
      parameters.forEach((p, i) => {
        tensors.set(`adam.m.${names[i]}`, { shape: p.shape, data: state.m[i] });
        tensors.set(`adam.v.${names[i]}`, { shape: p.shape, data: state.v[i] });
      });
      await run.store.write(checkpointName, encodeCheckpoint({ recipeSha256: run.recipeSha256, step, adamSteps: state.steps, losses, tensors }));
    };

    const currentLora = async (): Promise<TrainedLora> => {
      const read = async (l: LoraFactors): Promise<TrainedProjection> => ({ a: await ctx.read(l.a), b: await ctx.read(l.b) });
      return { layers, rank: options.rank, alpha: options.alpha, toK: await Promise.all(loraK.map(read)), toV: await Promise.all(loraV.map(read)) };
    };

    const end = Math.min(options.steps, run.stopAfter ?? options.steps);
    const started = performance.now();
    for (let step = start; step < end; step++) {
      await run.control?.gate?.();
      run.control?.signal?.throwIfAborted();
      const plan = await objective.planStep(step, objectiveContext);
      let accumulated: GpuTensor[] | null = null;
      let loss = 0;
      const groups: Partial<Record<LossGroup, number>> = {};
      for (const [position, sample] of plan.samples.entries()) {
        const { latents, timestep: t } = await trainingLatents.make(sample.latent, step * options.batch + position);
        // Frozen predictions of this z_t, by conditioning ("" included), computed once each.
        const originals = new Map<string, Promise<Float32Array>>();
        const original = (cond: Conditioning): Promise<Float32Array> => {
          const key = cond.kind === 'text' ? `text:${cond.text}` : `embedding:${cond.label}`;
          let p = originals.get(key);
          if (!p) originals.set(key, (p = frozen.predict(latents, t, cond)));
          return p;
        };
        const sampleTensor = ctx.upload(latents, latentShape);
        const timestep = ctx.upload([t], [1]);
        try {
          for (const term of sample.terms) {
            const target = await targetOf(term.target, original);
            const e = await embed(term.input);
            const base = projectKv(ctx, e, model.weights as CrossAttentionWeights, options.base === 'closed-form' ? run.baseDeltas : undefined);
            const keys = base.keys.map((k, i) => loraForward(ctx, e, k, loraK[i]));
            const values = base.values.map((v, i) => loraForward(ctx, e, v, loraV[i]));
            base.release();
            const pass = chain.forward(inputs(sampleTensor, timestep, keys, values));
            let grads: GpuTensor[];
            try {
              const out = pass.values.get('out_sample')!;
              const eps = await ctx.read(out);
              if (eps.length !== target.length) throw new InputError(`fine-tune: the UNet predicted ${eps.length} values, the target has ${target.length}`);
              const n = eps.length;
              const scale = term.weight / plan.samples.length;
              let sum = 0;
              const seedData = new Float32Array(n);
              for (let j = 0; j < n; j++) {
                const d = eps[j] - target[j];
                sum += d * d;
                seedData[j] = (2 * scale * d) / n;
              }
              const termLoss = (scale * sum) / n;
              loss += termLoss;
              groups[term.group] = (groups[term.group] ?? 0) + termLoss;
              if (!Number.isFinite(termLoss)) {
                pass.dispose();
                throw new TrainingDivergedError(step, options.learningRate, termLoss);
              }
              const seed = ctx.upload(seedData, out.shape);
              const kvGrads = pass.backward(new Map([['out_sample', seed]]), [...layers.keys()].flatMap((i) => [`k_${i}`, `v_${i}`]));
              seed.release();
              grads = [];
              for (const [i] of layers.entries()) {
                const dK = kvGrads.get(`k_${i}`);
                const dV = kvGrads.get(`v_${i}`);
                if (!dK || !dV) throw new Error(`fine-tune: no gradient reached k_${i} / v_${i} (${describeConditioning(term.input)})`);
                const k = loraBackward(ctx, e, dK, loraK[i]);
                const v = loraBackward(ctx, e, dV, loraV[i]);
                grads.push(k.da, k.db, v.da, v.db);
              }
              for (const g of kvGrads.values()) g.release();
            } finally {
              for (const t of [...keys, ...values]) t.release();
              releaseEmbedding(term.input, e);
            }
            // Order as `parameters`: every K factor pair, then every V pair.
            const ordered = [...layers.keys()].flatMap((i) => [grads[4 * i], grads[4 * i + 1]]).concat([...layers.keys()].flatMap((i) => [grads[4 * i + 2], grads[4 * i + 3]]));
            if (!accumulated) accumulated = ordered;
            else {
              const sums: GpuTensor[] = accumulated.map((acc, i) => binary(ctx, 'add', acc, ordered[i]));
              for (const g of [...accumulated, ...ordered]) g.release();
              accumulated = sums;
            }
          }
        } finally {
          sampleTensor.release();
          timestep.release();
        }
      }
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(step, options.learningRate, loss);
      if (accumulated) {
        adam.step(accumulated);
        for (const g of accumulated) g.release();
      }
      losses.push({ step, loss, groups });
      const done = step + 1;
      const every = run.checkpointEvery ?? 0;
      const checkpointed = run.store !== undefined && every > 0 && (done % every === 0 || done === end);
      if (checkpointed) await saveCheckpoint(done);
      const snapshot = run.snapshot;
      if (snapshot && snapshot.every > 0 && (done % snapshot.every === 0 || done === end)) await snapshot.take(done, await currentLora());
      const seconds = (performance.now() - started) / 1000;
      const rate = (done - start) / Math.max(seconds, 1e-9);
      run.onProgress?.({ step: done, steps: options.steps, loss, groups, stepsPerSecond: rate, etaSeconds: (options.steps - done) / rate, checkpointed });
    }
    await ctx.sync();
    const lora = await currentLora();
    return { lora, losses, steps: Math.max(end, start), resumedAt: start, seconds: (performance.now() - started) / 1000 };
  } finally {
    adam?.dispose();
    for (const predictor of frozenByText.values()) await predictor.then((p) => p.release()).catch(() => undefined);
    for (const t of [...owned, ...embeddings.values()]) t.release();
    for (const graph of graphs) graph.release();
  }
}

/** Checkpoint tensor names of the factors, in `parameters` order: every K pair, then every V pair. */
function parameterNames(layerCount: number): string[] {
  const names: string[] = [];
  for (const projection of ['to_k', 'to_v'])
    for (let i = 0; i < layerCount; i++) names.push(`lora.${i}.${projection}.a`, `lora.${i}.${projection}.b`);
  return names;
}

async function targetOf(target: LossTarget, original: (cond: Conditioning) => Promise<Float32Array>): Promise<Float32Array> {
  const conditional = await original(target.cond);
  if (target.kind === 'original') return conditional;
  const unconditional = await original({ kind: 'text', text: '' });
  const out = new Float32Array(conditional.length);
  for (let i = 0; i < out.length; i++) out[i] = unconditional[i] - target.eta * (conditional[i] - unconditional[i]);
  return out;
}
