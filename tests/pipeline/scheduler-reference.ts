/*
 * Float64 references for the scheduler tests, written from the papers' formulas (DDPM,
 * DDIM eq. 12/16, Karras/k-diffusion ancestral Euler, DPM-Solver++ Algorithm 2) with
 * deliberately different arithmetic from src/pipeline/schedulers (log-sums, exact rationals,
 * linear solves), so a shared slip cannot hide.
 */
import { SeededRandom } from '../../src/util/random.ts';

export const SD15_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
} as const;

export const SD21_CONFIG = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.8.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'v_prediction',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
} as const;

/** alpha-bar_t = exp(sum_{s<=t} log(1 - beta_s)), beta from its definition per schedule. */
export function referenceAlphasCumprod(schedule: 'linear' | 'scaled_linear', betaStart: number, betaEnd: number, n: number): number[] {
  const out: number[] = [];
  let logSum = 0;
  for (let t = 0; t < n; t++) {
    const fraction = t / (n - 1);
    const beta =
      schedule === 'linear'
        ? betaStart * (1 - fraction) + betaEnd * fraction
        : (Math.sqrt(betaStart) * (1 - fraction) + Math.sqrt(betaEnd) * fraction) ** 2;
    logSum += Math.log1p(-beta);
    out.push(Math.exp(logSum));
  }
  return out;
}

/** Round-half-even of the exact rational num/den (both non-negative integers). */
export function roundRational(num: number, den: number): number {
  const q = Math.floor(num / den);
  const twiceRemainder = 2 * (num - q * den);
  if (twiceRemainder < den) return q;
  if (twiceRemainder > den) return q + 1;
  return q % 2 === 0 ? q : q + 1;
}

export function randomArray(seed: number, length: number, scale = 1): Float32Array {
  return new SeededRandom(seed).normalArray(length, scale);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Largest |a - b| / (1 + |b|): relative for large values, absolute near 0. */
export function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

/** sigma_t = sqrt((1 - a_t) / a_t) at a possibly fractional t, linear in between (np.interp). */
export function sigmaAt(alphas: ArrayLike<number>, t: number): number {
  const sigma = (i: number): number => Math.sqrt((1 - alphas[i]) / alphas[i]);
  const low = Math.floor(t);
  return low === t ? sigma(t) : sigma(low) + (t - low) * (sigma(low + 1) - sigma(low));
}
