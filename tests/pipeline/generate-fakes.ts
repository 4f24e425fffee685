/*
 * Stand-ins for the text encoder, UNet and VAE, for testing generate() without a GPU or ORT.
 * Each records how it was called, so tests can count calls and inspect inputs.
 */
import type {
  ConditioningRequest,
  LatentDecoder,
  LatentShape,
  LatentSpace,
  NoisePredictor,
  PromptConditioner,
} from '../../src/pipeline/generate.ts';
import type { RgbImage } from '../../src/pipeline/image/rgb-image.ts';
import { referenceAlphasCumprod } from './scheduler-reference.ts';

/** SD's geometry: 4 latent channels, VAE x8, four UNet blocks (sides are multiples of 64). */
export const SD_SPACE: LatentSpace = { latentChannels: 4, vaeScale: 8, latentScalingFactor: 0.18215, unetChannels: [320, 640, 1280, 1280] };

export interface FakeConditioning {
  readonly id: number;
  readonly request: ConditioningRequest;
}

export class FakeConditioner implements PromptConditioner<FakeConditioning> {
  readonly requests: ConditioningRequest[] = [];
  readonly released: FakeConditioning[] = [];

  async condition(request: ConditioningRequest): Promise<FakeConditioning> {
    this.requests.push(request);
    return { id: this.requests.length, request };
  }

  release(conditioning: FakeConditioning): void {
    this.released.push(conditioning);
  }
}

export interface PredictCall {
  latents: Float32Array;
  shape: LatentShape;
  timestep: number;
  conditioning: FakeConditioning;
}

/** A predictor made of one function per batch entry: entry 0 of 2 is unconditional, the rest conditional. */
export class FunctionPredictor implements NoisePredictor<FakeConditioning> {
  readonly calls: PredictCall[] = [];

  /** `branch(x, t, conditional)` gives one batch entry's output; batch 1 is the conditional branch. */
  constructor(private readonly branch: (x: Float32Array, t: number, conditional: boolean) => Float32Array) {}

  async predict(latents: Float32Array, shape: LatentShape, timestep: number, conditioning: FakeConditioning): Promise<Float32Array> {
    this.calls.push({ latents: latents.slice(), shape, timestep, conditioning });
    const size = shape[1] * shape[2] * shape[3];
    const out = new Float32Array(latents.length);
    for (let b = 0; b < shape[0]; b++) {
      const conditional = shape[0] === 1 || b === 1;
      out.set(this.branch(latents.subarray(b * size, (b + 1) * size), timestep, conditional), b * size);
    }
    return out;
  }
}

/** sigma(t) = sqrt((1 - abar_t) / abar_t), linearly interpolated between integer t as diffusers' np.interp does. */
export function referenceSigma(alphas: readonly number[], t: number): number {
  const sigma = (k: number): number => Math.sqrt((1 - alphas[k]) / alphas[k]);
  const low = Math.floor(t);
  if (low === t) return sigma(low);
  return sigma(low) + (t - low) * (sigma(low + 1) - sigma(low));
}

/**
 * The ideal UNet for a known clean sample x0: given the (scaled) model input, which is the
 * variance-preserving x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, it returns exactly that eps
 * (or v = sqrt(abar) eps - sqrt(1 - abar) x0), whatever the batch half.
 */
export function perfectPredictor(x0: Float64Array, prediction: 'epsilon' | 'v_prediction' = 'epsilon'): FunctionPredictor {
  const alphas = referenceAlphasCumprod('scaled_linear', 0.00085, 0.012, 1000);
  return new FunctionPredictor((x, t) => {
    const sigma = referenceSigma(alphas, t);
    const abar = 1 / (1 + sigma * sigma);
    const signal = Math.sqrt(abar);
    const noise = Math.sqrt(1 - abar);
    return Float32Array.from(x, (xi, i) => {
      const eps = (xi - signal * x0[i]) / noise;
      return prediction === 'epsilon' ? eps : signal * eps - noise * x0[i];
    });
  });
}

/**
 * A deterministic stand-in VAE: pixel (y, x) of channel c is tanh of latent channel c at
 * (y / 8, x / 8), so different latents give different images.
 */
export class FakeDecoder implements LatentDecoder {
  readonly calls: { latents: Float32Array; shape: LatentShape }[] = [];

  constructor(private readonly returnImage: RgbImage | null = null) {}

  async decode(latents: Float32Array, shape: LatentShape): Promise<RgbImage | Float32Array> {
    this.calls.push({ latents: latents.slice(), shape });
    if (this.returnImage) return this.returnImage;
    const [, , h, w] = shape;
    const height = h * 8;
    const width = w * 8;
    const out = new Float32Array(3 * height * width);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          out[(c * height + y) * width + x] = Math.tanh(latents[(c * h + (y >> 3)) * w + (x >> 3)]);
        }
      }
    }
    return out;
  }
}
