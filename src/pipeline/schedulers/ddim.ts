import { InputError } from '../../util/errors.ts';
import { alphasCumprod } from './noise-schedule.ts';
import type { NoiseDraw, Scheduler } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { ddimTimesteps } from './timesteps.ts';
import { checkLength, checkStepIndex, drawNoise } from './step-checks.ts';

/**
 * DDIM (Song et al. 2021, eqs. 12 and 16), as diffusers' DDIMScheduler:
 *   x0  = predicted clean sample,  eps = predicted noise      (from the model output)
 *   x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s z,
 *   s = eta sqrt((1 - a_prev)/(1 - a_t) (1 - a_t/a_prev)),  z ~ N(0, I).
 * The previous timestep is t - N // steps whatever the spacing, and below timestep 0
 * a_prev is 1 (set_alpha_to_one) or alphas_cumprod[0].
 */
export class DdimScheduler implements Scheduler {
  readonly kind = 'ddim';
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic: boolean;
  private readonly alphas: Float64Array;
  private readonly finalAlpha: number;
  private readonly stride: number;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
    private readonly eta = 0,
  ) {
    // Above 1 the direction term's variance goes negative (diffusers returns NaN).
    if (!(eta >= 0 && eta <= 1)) throw new InputError(`eta: got ${eta}, expected a number in [0, 1]`);
    this.timesteps = ddimTimesteps(config, steps);
    this.alphas = alphasCumprod(config);
    this.finalAlpha = config.setAlphaToOne ? 1 : this.alphas[0];
    this.stride = Math.floor(config.numTrainTimesteps / steps);
    this.stochastic = eta > 0;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return sample;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: NoiseDraw): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    checkLength(modelOutput, sample);
    const t = this.timesteps[stepIndex];
    const prevT = t - this.stride;
    const alpha = this.alphas[t];
    const alphaPrev = prevT >= 0 ? this.alphas[prevT] : this.finalAlpha;
    const sqrtAlpha = Math.sqrt(alpha);
    const sqrtBeta = Math.sqrt(1 - alpha);
    const variance = ((1 - alphaPrev) / (1 - alpha)) * (1 - alpha / alphaPrev);
    const std = this.eta * Math.sqrt(variance);
    // Exactly 0 for eta = 1 at a_prev = a_t in exact arithmetic; rounding may dip below it.
    const directionScale = Math.sqrt(Math.max(0, 1 - alphaPrev - std * std));
    const signalScale = Math.sqrt(alphaPrev);
    const z = std > 0 ? drawNoise(noise, sample.length, 'DDIM with eta > 0') : null;
    const { clipSample, clipSampleRange, predictionType } = this.config;

    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      let x0: number;
      let eps: number;
      if (predictionType === 'epsilon') {
        x0 = (x - sqrtBeta * m) / sqrtAlpha;
        eps = m;
      } else {
        x0 = sqrtAlpha * x - sqrtBeta * m;
        eps = sqrtAlpha * m + sqrtBeta * x;
      }
      if (clipSample) x0 = Math.min(clipSampleRange, Math.max(-clipSampleRange, x0));
      let next = signalScale * x0 + directionScale * eps;
      if (z) next += std * z[i];
      out[i] = next;
    }
    return out;
  }
}
