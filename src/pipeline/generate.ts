import { InputError, ShapeError } from '../util/errors.ts';
import { checkRgbImage, type RgbImage } from './image/rgb-image.ts';
import { vaeOutputToImage } from './image/vae-output.ts';
import { initialLatents, samplerStepNoise } from './noise.ts';
import { createScheduler } from './schedulers/create-scheduler.ts';
import { SCHEDULER_KINDS, type SchedulerKind } from './schedulers/scheduler.ts';

/*
 * Text-to-image sampling with classifier-free guidance, as diffusers' StableDiffusionPipeline
 * runs it, written against three small interfaces so the loop does not know whether the
 * UNet is ORT-web pieces on WebGPU, onnxruntime-node, or a test double:
 *
 *   conditioner  prompt strings + variant  ->  C (opaque: embeddings, per-layer K/V, ...)
 *   predictor    latents [b, 4, h, w], timestep, C  ->  noise prediction [b, 4, h, w]
 *   decoder      latents / scaling factor  ->  [1, 3, H, W] in [-1, 1], or an RgbImage
 *
 * Everything random is keyed by the seed (noise.ts), so a request gives the same latents
 * and the same image however often and in whatever order generations run.
 */

export const MODEL_VARIANTS = ['original', 'edited'] as const;
/** Which weights answer the prompt: the pack as shipped, or with the erasure applied. */
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** [batch, channels, height, width] of a latent tensor. */
export type LatentShape = readonly [batch: number, channels: number, height: number, width: number];

export interface GenerateRequest {
  readonly prompt: string;
  /** The unconditional prompt of classifier-free guidance ('' when absent, as in diffusers). */
  readonly negativePrompt?: string;
  /** An integer in [0, 2^32). */
  readonly seed: number;
  /** UNet evaluations, 1 to 1000 (and at most the scheduler's num_train_timesteps). */
  readonly steps: number;
  /** Classifier-free guidance scale g in [1, 50]; 1 runs the conditional branch alone. */
  readonly guidance: number;
  readonly scheduler: SchedulerKind;
  /** Pixels; multiples of `pixelMultiple(latentSpace)` (64 for SD), at most 2048. */
  readonly width: number;
  readonly height: number;
  readonly variant: ModelVariant;
}

/** A request after validation, with defaults filled in. */
export interface ValidGenerateRequest extends GenerateRequest {
  readonly negativePrompt: string;
}

export const GENERATE_LIMITS = {
  maxSteps: 1000,
  minGuidance: 1,
  maxGuidance: 50,
  maxSide: 2048,
  /** Seeds are uint32, the range the UI, the CLI and recipes all accept. */
  seedEnd: 2 ** 32,
} as const;

/** The pack's latent geometry; field names match the manifest's PackDims, so `pack.dims` fits. */
export interface LatentSpace {
  readonly latentChannels: number;
  /** Pixels per latent cell along each side (8 for SD's VAE). */
  readonly vaeScale: number;
  /** Latents are divided by this before decoding (0.18215 for SD 1.x/2.x). */
  readonly latentScalingFactor: number;
  /** UNet block_out_channels; the UNet halves the latent size length - 1 times. */
  readonly unetChannels: readonly number[];
}

/** What the conditioner is asked to prepare. */
export interface ConditioningRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly variant: ModelVariant;
  /**
   * True: conditioning for a batch of 2, [unconditional (negativePrompt), conditional (prompt)].
   * False (guidance 1): a batch of 1, the conditional prompt only.
   */
  readonly unconditional: boolean;
}

/** Turns prompts into whatever the predictor consumes; runs once per generation. */
export interface PromptConditioner<C> {
  condition(request: ConditioningRequest): Promise<C>;
  /** Called once when the generation ends (finished, failed or aborted), e.g. to free GPU buffers. */
  release?(conditioning: C): void;
}

/** The UNet. */
export interface NoisePredictor<C> {
  /**
   * The model output (epsilon or v, as the scheduler config says) for `latents` of `shape`
   * ([2, c, h, w] = [uncond, cond] under guidance, else [1, c, h, w]) at `timestep` (a training
   * timestep, non-integer for some schedules). Must not modify `latents`.
   */
  predict(latents: Float32Array, shape: LatentShape, timestep: number, conditioning: C): Promise<Float32Array>;
}

/** The VAE decoder. */
export interface LatentDecoder {
  /**
   * `latents` [1, c, h, w], already divided by the scaling factor. Returns [1, 3, h * vaeScale,
   * w * vaeScale] in [-1, 1] (converted here as diffusers does), or the finished image.
   */
  decode(latents: Float32Array, shape: LatentShape): Promise<RgbImage | Float32Array>;
}

export interface GenerateModel<C> {
  readonly latentSpace: LatentSpace;
  /** scheduler/scheduler_config.json of the pack (parsed here for the requested sampler). */
  readonly schedulerConfig: unknown;
  readonly conditioner: PromptConditioner<C>;
  readonly predictor: NoisePredictor<C>;
  readonly decoder: LatentDecoder;
}

export interface GenerateProgress {
  readonly phase: 'denoise' | 'decode';
  /** 'denoise': steps finished, 1 .. steps, one event after each; 'decode': steps (once, before decoding). */
  readonly step: number;
  readonly steps: number;
  /** The latents after this step (a copy), when GenerateOptions.previewLatents is set. */
  readonly previewLatents?: Float32Array;
}

export interface GenerateOptions {
  readonly onProgress?: (progress: GenerateProgress) => void;
  /** Checked before every step and before decoding; aborting throws `signal.reason`. */
  readonly signal?: AbortSignal;
  readonly previewLatents?: boolean;
}

export interface GenerateResult {
  readonly image: RgbImage;
  /** The final latents [1, c, h, w], before division by the scaling factor. */
  readonly latents: Float32Array;
  readonly latentShape: LatentShape;
  /** The timesteps the UNet saw, in order. */
  readonly timesteps: readonly number[];
  readonly request: ValidGenerateRequest;
}

/** A model produced NaN or infinity: names what, where, and on which step. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly source: 'noise prediction' | 'decoded image',
    readonly index: number,
    readonly value: number,
    /** 0-based step index (null for the decoder). */
    readonly stepIndex: number | null,
    readonly timestep: number | null,
  ) {
    super(
      `${source}${stepIndex === null ? '' : ` at step index ${stepIndex} (timestep ${timestep})`} has ${value} at index ${index}` +
        ' (an overflow in the model, often float16 activations)',
    );
  }
}

/** Samples one image for `request`. See the file comment for the contract of each component. */
export async function generate<C>(request: GenerateRequest, model: GenerateModel<C>, options: GenerateOptions = {}): Promise<GenerateResult> {
  const { signal, onProgress } = options;
  const space = model.latentSpace;
  const valid = validateGenerateRequest(request, space);
  const scheduler = createScheduler(valid.scheduler, model.schedulerConfig, valid.steps);
  const shape: LatentShape = [1, space.latentChannels, valid.height / space.vaeScale, valid.width / space.vaeScale];
  const size = shape[1] * shape[2] * shape[3];
  const guided = valid.guidance !== 1;
  const batchShape: LatentShape = [guided ? 2 : 1, shape[1], shape[2], shape[3]];
  const steps = scheduler.timesteps.length;

  signal?.throwIfAborted();
  let latents = initialLatents(valid.seed, shape, scheduler.initNoiseSigma);
  const conditioning = await model.conditioner.condition({
    prompt: valid.prompt,
    negativePrompt: valid.negativePrompt,
    variant: valid.variant,
    unconditional: guided,
  });
  try {
    for (let i = 0; i < steps; i++) {
      signal?.throwIfAborted();
      const modelInput = scheduler.scaleModelInput(latents, i);
      const batch = guided ? duplicate(modelInput) : modelInput === latents ? latents.slice() : modelInput;
      const output = await model.predictor.predict(batch, batchShape, scheduler.timesteps[i], conditioning);
      if (!(output instanceof Float32Array) || output.length !== batch.length) {
        throw new ShapeError(`noise predictor: step ${i} returned ${describe(output)}, expected a Float32Array of [${batchShape.join(', ')}] = ${batch.length} values`);
      }
      checkFinite(output, 'noise prediction', i, scheduler.timesteps[i]);
      const prediction = guided ? applyGuidance(output.subarray(0, size), output.subarray(size), valid.guidance) : output;
      // Keyed by (seed, step): the noise of step i never depends on what ran before it.
      latents = scheduler.step(prediction, i, latents, () => samplerStepNoise(valid.seed, i, size));
      onProgress?.({ phase: 'denoise', step: i + 1, steps, ...(options.previewLatents ? { previewLatents: latents.slice() } : {}) });
    }
    onProgress?.({ phase: 'decode', step: steps, steps });
    signal?.throwIfAborted();
    const scaled = latents.map((v) => v / space.latentScalingFactor);
    const decoded = await model.decoder.decode(scaled, shape);
    return { image: toImage(decoded, valid.width, valid.height), latents, latentShape: shape, timesteps: scheduler.timesteps, request: valid };
  } finally {
    model.conditioner.release?.(conditioning);
  }
}

/**
 * Classifier-free guidance: uncond + g (cond - uncond), evaluated in float64 and rounded once
 * to float32 (diffusers rounds after each of its three float32 operations; this differs from it
 * by at most a few ulps and is closer to the exact value).
 */
export function applyGuidance(uncond: Float32Array, cond: Float32Array, guidance: number): Float32Array {
  if (uncond.length !== cond.length) throw new ShapeError(`guidance: uncond has ${uncond.length} values, cond ${cond.length}`);
  const out = new Float32Array(cond.length);
  for (let i = 0; i < out.length; i++) out[i] = uncond[i] + guidance * (cond[i] - uncond[i]);
  return out;
}

/**
 * The side lengths the pack accepts are multiples of this: the VAE's scale times 2 for each of
 * the UNet's downsamplings (8 x 2^3 = 64 for SD 1.x/2.x), so every skip connection lines up.
 */
export function pixelMultiple(space: LatentSpace): number {
  return space.vaeScale * 2 ** (space.unetChannels.length - 1);
}

/** Checks every field of a request (from the UI, the CLI or a recipe file); the error names the field and its range. */
export function validateGenerateRequest(request: unknown, space: LatentSpace): ValidGenerateRequest {
  checkLatentSpace(space);
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new InputError(`generate request: got ${describe(request)}, expected an object`);
  }
  const r = request as Record<string, unknown>;
  const prompt = r.prompt;
  if (typeof prompt !== 'string') throw new InputError(`prompt: got ${describe(prompt)}, expected a string`);
  const negativePrompt = r.negativePrompt ?? '';
  if (typeof negativePrompt !== 'string') throw new InputError(`negativePrompt: got ${describe(negativePrompt)}, expected a string`);

  const seed = r.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= GENERATE_LIMITS.seedEnd) {
    throw new InputError(`seed: got ${describe(seed)}, expected an integer in [0, ${GENERATE_LIMITS.seedEnd - 1}]`);
  }
  const steps = r.steps;
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > GENERATE_LIMITS.maxSteps) {
    throw new InputError(`steps: got ${describe(steps)}, expected an integer in [1, ${GENERATE_LIMITS.maxSteps}]`);
  }
  const guidance = r.guidance;
  if (typeof guidance !== 'number' || !(guidance >= GENERATE_LIMITS.minGuidance && guidance <= GENERATE_LIMITS.maxGuidance)) {
    throw new InputError(
      `guidance: got ${describe(guidance)}, expected a number in [${GENERATE_LIMITS.minGuidance}, ${GENERATE_LIMITS.maxGuidance}] (1 = no classifier-free guidance)`,
    );
  }
  const scheduler = r.scheduler;
  if (typeof scheduler !== 'string' || !(SCHEDULER_KINDS as readonly string[]).includes(scheduler)) {
    throw new InputError(`scheduler: got ${describe(scheduler)}, expected one of ${SCHEDULER_KINDS.join(', ')}`);
  }
  const variant = r.variant;
  if (typeof variant !== 'string' || !(MODEL_VARIANTS as readonly string[]).includes(variant)) {
    throw new InputError(`variant: got ${describe(variant)}, expected one of ${MODEL_VARIANTS.join(', ')}`);
  }
  const multiple = pixelMultiple(space);
  const side = (name: 'width' | 'height'): number => {
    const value = r[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < multiple || value > GENERATE_LIMITS.maxSide || value % multiple !== 0) {
      throw new InputError(
        `${name}: got ${describe(value)}, expected a multiple of ${multiple} in [${multiple}, ${GENERATE_LIMITS.maxSide}]` +
          ` (VAE scale ${space.vaeScale} x 2^${space.unetChannels.length - 1} UNet downsamplings)`,
      );
    }
    return value;
  };
  return {
    prompt,
    negativePrompt,
    seed,
    steps,
    guidance,
    scheduler: scheduler as SchedulerKind,
    width: side('width'),
    height: side('height'),
    variant: variant as ModelVariant,
  };
}

function checkLatentSpace(space: LatentSpace): void {
  const { latentChannels, vaeScale, latentScalingFactor, unetChannels } = space;
  const positiveInteger = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 1;
  if (
    !positiveInteger(latentChannels) ||
    !positiveInteger(vaeScale) ||
    !(typeof latentScalingFactor === 'number' && Number.isFinite(latentScalingFactor) && latentScalingFactor > 0) ||
    !Array.isArray(unetChannels) ||
    unetChannels.length < 1 ||
    unetChannels.length > 8
  ) {
    throw new InputError(
      `latent space: got channels ${latentChannels}, vaeScale ${vaeScale}, scaling factor ${latentScalingFactor}, ` +
        `${unetChannels?.length} UNet blocks; expected positive integers, a positive factor and 1 to 8 blocks`,
    );
  }
}

function duplicate(sample: Float32Array): Float32Array {
  const out = new Float32Array(sample.length * 2);
  out.set(sample, 0);
  out.set(sample, sample.length);
  return out;
}

function checkFinite(values: Float32Array, source: NonFiniteError['source'], stepIndex: number | null, timestep: number | null): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new NonFiniteError(source, i, values[i], stepIndex, timestep);
  }
}

function toImage(decoded: RgbImage | Float32Array, width: number, height: number): RgbImage {
  if (decoded instanceof Float32Array) {
    checkFinite(decoded, 'decoded image', null, null);
    return vaeOutputToImage(decoded, width, height);
  }
  checkRgbImage(decoded, 'latent decoder');
  if (decoded.width !== width || decoded.height !== height) {
    throw new ShapeError(`latent decoder: returned a ${decoded.width} x ${decoded.height} image, expected ${width} x ${height}`);
  }
  return decoded;
}

function describe(value: unknown): string {
  if (value instanceof Float32Array) return `a Float32Array of ${value.length} values`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}
