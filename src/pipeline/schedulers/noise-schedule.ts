import type { NoiseSchedule } from './scheduler-config.ts';

/**
 * beta_t for t = 0 .. N-1, in float64. diffusers builds these in float32 (torch.linspace);
 * the difference (~1e-7 relative) is far below anything a sampler can show.
 */
export function betas(schedule: Pick<NoiseSchedule, 'numTrainTimesteps' | 'betaSchedule' | 'betaStart' | 'betaEnd'>): Float64Array {
  const n = schedule.numTrainTimesteps;
  const out = new Float64Array(n);
  switch (schedule.betaSchedule) {
    case 'linear':
      for (let t = 0; t < n; t++) out[t] = lerp(schedule.betaStart, schedule.betaEnd, t, n);
      break;
    case 'scaled_linear': {
      // Latent diffusion spaces the square roots of beta evenly, not beta itself.
      const from = Math.sqrt(schedule.betaStart);
      const to = Math.sqrt(schedule.betaEnd);
      for (let t = 0; t < n; t++) out[t] = lerp(from, to, t, n) ** 2;
      break;
    }
    case 'squaredcos_cap_v2': {
      // Improved DDPM's cosine alpha-bar; betas capped below 1 so the last step stays invertible.
      const alphaBar = (s: number): number => Math.cos(((s + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      for (let t = 0; t < n; t++) out[t] = Math.min(1 - alphaBar((t + 1) / n) / alphaBar(t / n), 0.999);
      break;
    }
  }
  return out;
}

/** alpha-bar_t = prod_{s <= t} (1 - beta_s): the signal fraction q(x_t | x_0) keeps. */
export function alphasCumprod(schedule: Pick<NoiseSchedule, 'numTrainTimesteps' | 'betaSchedule' | 'betaStart' | 'betaEnd'>): Float64Array {
  const beta = betas(schedule);
  const out = new Float64Array(beta.length);
  let product = 1;
  for (let t = 0; t < beta.length; t++) {
    product *= 1 - beta[t];
    out[t] = product;
  }
  return out;
}

function lerp(from: number, to: number, index: number, count: number): number {
  return count === 1 ? from : from + ((to - from) * index) / (count - 1);
}
