import { InputError } from '../../util/errors.ts';
import { alphasCumprod } from './noise-schedule.ts';
import type { Scheduler } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { checkLength, checkStepIndex } from './step-checks.ts';
import { dpmSolverTimesteps, interpolate } from './timesteps.ts';

/**
 * DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), as diffusers' DPMSolverMultistepScheduler
 * with algorithm_type "dpmsolver++" and solver_order 2. With alpha = 1/sqrt(sigma^2 + 1),
 * s = sigma alpha and lambda = log(alpha / s), each step from lambda_0 to lambda_1
 * (h = lambda_1 - lambda_0) uses the data prediction D0 of this step and, from the second
 * step on, D1 = (D0 - D_prev) h / h_prev:
 *   x_next = (s_1/s_0) x - alpha_1 (e^-h - 1) (D0 + D1/2)                 (midpoint)
 *   x_next = (s_1/s_0) x - alpha_1 (e^-h - 1) D0 + alpha_1 ((e^-h - 1)/h + 1) D1   (heun)
 * The first step, and the last one when final_sigmas_type is "zero" (or lower_order_final
 * with fewer than 15 steps, or euler_at_final), are first order (D1 = 0): a second-order
 * step into sigma = 0 has h = infinity.
 *
 * It is multistep: it remembers the previous step's D0, so steps must run 0, 1, 2, ... in
 * order; step 0 starts a new trajectory.
 */
export class DpmSolverMultistepScheduler implements Scheduler {
  readonly kind = 'dpmpp_2m';
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  /** sigma at each step, plus the final sigma (0 or sigma_min). */
  readonly sigmas: Float64Array;
  private previousDataPrediction: Float64Array | null = null;
  private nextStepIndex = 0;

  constructor(
    private readonly config: SchedulerConfig,
    steps: number,
  ) {
    const alphas = alphasCumprod(config);
    const logSnr = alphas.map((a) => Math.log(Math.sqrt(a)) - Math.log(Math.sqrt(1 - a)));
    this.timesteps = dpmSolverTimesteps(config, steps, logSnr);
    const trainSigmas = alphas.map((a) => Math.sqrt((1 - a) / a));
    this.sigmas = new Float64Array(this.timesteps.length + 1);
    this.timesteps.forEach((t, i) => (this.sigmas[i] = interpolate(trainSigmas, t)));
    this.sigmas[this.timesteps.length] = config.finalSigmasType === 'zero' ? 0 : trainSigmas[0];
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return sample;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    const n = this.timesteps.length;
    checkStepIndex(stepIndex, n);
    checkLength(modelOutput, sample);
    if (stepIndex === 0) this.previousDataPrediction = null;
    else if (stepIndex !== this.nextStepIndex || this.previousDataPrediction?.length !== sample.length) {
      throw new InputError(
        `DPM-Solver++ 2M is multistep: steps must run 0, 1, 2, ... on one sample (expected step ${this.nextStepIndex}, got ${stepIndex})`,
      );
    }
    const { config } = this;
    const isLast = stepIndex === n - 1;
    const firstOrderFinal = isLast && (config.eulerAtFinal || (config.lowerOrderFinal && n < 15) || config.finalSigmasType === 'zero');
    const previous = firstOrderFinal ? null : this.previousDataPrediction;

    const current = alphaSigma(this.sigmas[stepIndex]);
    const next = alphaSigma(this.sigmas[stepIndex + 1]);
    const h = next.lambda - current.lambda;
    const expm = Math.exp(-h) - 1;
    const sampleScale = next.sigma / current.sigma;
    const d0Scale = -next.alpha * expm;
    let d1Scale = 0;
    let r = 1;
    if (previous) {
      const before = alphaSigma(this.sigmas[stepIndex - 1]);
      r = (current.lambda - before.lambda) / h;
      d1Scale = config.solverType === 'midpoint' ? -0.5 * next.alpha * expm : next.alpha * (expm / h + 1);
    }

    const dataPrediction = new Float64Array(sample.length);
    const out = new Float32Array(sample.length);
    const epsilon = config.predictionType === 'epsilon';
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      const d0 = epsilon ? (x - current.sigma * m) / current.alpha : current.alpha * x - current.sigma * m;
      dataPrediction[i] = d0;
      let value = sampleScale * x + d0Scale * d0;
      if (previous) value += d1Scale * ((d0 - previous[i]) / r);
      out[i] = value;
    }
    this.previousDataPrediction = dataPrediction;
    this.nextStepIndex = stepIndex + 1;
    return out;
  }
}

/** VP coefficients of a VE sigma: x_t = alpha x0 + sigma_t eps, lambda = log(alpha / sigma_t). */
function alphaSigma(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigma: sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}
