import { alphasCumprod } from './noise-schedule.ts';
import type { NoiseDraw, Scheduler } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { checkLength, checkStepIndex, drawNoise } from './step-checks.ts';
import { eulerTimesteps, interpolate } from './timesteps.ts';

/**
 * Euler ancestral (Karras et al. 2022's Euler step with k-diffusion's ancestral split), as
 * diffusers' EulerAncestralDiscreteScheduler. It works in the variance-exploding view
 * x = x0 + sigma eps with sigma_t = sqrt((1 - a_t) / a_t), so the UNet input is scaled back
 * by 1 / sqrt(sigma^2 + 1) and the initial noise has standard deviation ~sigma_max.
 * Each step from sigma to sigma_next splits sigma_next^2 = sigma_down^2 + sigma_up^2,
 * takes an Euler step to sigma_down and adds fresh noise of size sigma_up.
 */
export class EulerAncestralScheduler implements Scheduler {
  readonly kind = 'euler_a';
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  readonly stochastic = true;
  /** sigma at each step, plus a final 0. */
  readonly sigmas: Float64Array;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
  ) {
    this.timesteps = eulerTimesteps(config, steps);
    const alphas = alphasCumprod(config);
    const trainSigmas = alphas.map((a) => Math.sqrt((1 - a) / a));
    this.sigmas = new Float64Array(this.timesteps.length + 1);
    this.timesteps.forEach((t, i) => (this.sigmas[i] = interpolate(trainSigmas, t)));
    const maxSigma = Math.max(...this.sigmas);
    // diffusers' rule: leading spacing never reaches the top timestep, so it adds the unit variance back.
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.sqrt(maxSigma * maxSigma + 1) : maxSigma;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    const sigma = this.sigmas[stepIndex];
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i] * scale;
    return out;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: NoiseDraw): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    checkLength(modelOutput, sample);
    const sigma = this.sigmas[stepIndex];
    const sigmaNext = this.sigmas[stepIndex + 1];
    const sigmaUp = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(Math.max(0, sigmaNext * sigmaNext - sigmaUp * sigmaUp));
    const dt = sigmaDown - sigma;
    const z = sigmaUp > 0 ? drawNoise(noise, sample.length, 'Euler ancestral') : null;
    const vScale = -sigma / Math.sqrt(sigma * sigma + 1);
    const vSampleScale = 1 / (sigma * sigma + 1);
    const epsilon = this.config.predictionType === 'epsilon';

    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      const x0 = epsilon ? x - sigma * m : m * vScale + x * vSampleScale;
      const derivative = (x - x0) / sigma;
      let next = x + derivative * dt;
      if (z) next += z[i] * sigmaUp;
      out[i] = next;
    }
    return out;
  }
}
