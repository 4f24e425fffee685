import { InputError } from '../../util/errors.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

/*
 * Sampling timesteps exactly as diffusers' set_timesteps makes them. Each sampler class has its
 * own variant (DDIM rounds to integers, Euler keeps float32 fractions, DPM-Solver spaces
 * steps + 1 points and drops the last), and they are built with numpy, so numpy's rules are
 * reproduced: linspace = start + i * step with the end point pinned, arange fills
 * start + i * (second - first), and round() is round-half-to-even.
 */

/** DDIM: integer timesteps, highest first. */
export function ddimTimesteps(config: SchedulerConfig, steps: number): number[] {
  return spacedTimesteps(config, steps, roundHalfEven);
}

/** Euler: float32 timesteps, fractional with linspace spacing, highest first. */
export function eulerTimesteps(config: SchedulerConfig, steps: number): number[] {
  return spacedTimesteps(config, steps, Math.fround);
}

/** The three spacings DDIM and Euler share; they differ only in how linspace points are kept. */
function spacedTimesteps(config: SchedulerConfig, steps: number, keepLinspacePoint: (t: number) => number): number[] {
  const n = config.numTrainTimesteps;
  checkSteps(steps, n);
  let timesteps: number[];
  switch (config.timestepSpacing) {
    case 'linspace':
      timesteps = linspace(0, n - 1, steps).map(keepLinspacePoint).reverse();
      break;
    case 'leading': {
      const ratio = Math.floor(n / steps);
      timesteps = range(steps).map((i) => i * ratio + config.stepsOffset).reverse();
      break;
    }
    case 'trailing':
      timesteps = arange(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
      break;
  }
  return checked(timesteps, config, steps);
}

/**
 * DPM-Solver multistep: integer timesteps, highest first. `logSnr[t]` (lambda_t) decides
 * where lambda_min_clipped cuts the top of the schedule off.
 */
export function dpmSolverTimesteps(config: SchedulerConfig, steps: number, logSnr: Float64Array): number[] {
  const n = config.numTrainTimesteps;
  checkSteps(steps, n);
  // lambda_t falls with t; diffusers counts the values below the clip (searchsorted on the flipped array).
  let clipped = 0;
  for (let t = 0; t < n; t++) if (logSnr[t] < config.lambdaMinClipped) clipped++;
  const last = n - clipped;
  let timesteps: number[];
  switch (config.timestepSpacing) {
    case 'linspace':
      timesteps = linspace(0, last - 1, steps + 1).map(roundHalfEven).reverse().slice(0, steps);
      break;
    case 'leading': {
      const ratio = Math.floor(last / (steps + 1));
      timesteps = range(steps + 1).map((i) => i * ratio).reverse().slice(0, steps).map((t) => t + config.stepsOffset);
      break;
    }
    case 'trailing':
      // diffusers takes the ratio from the full range but starts at the clipped end.
      timesteps = arange(last, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
      break;
  }
  return checked(timesteps, config, steps);
}

/** np.interp of `values` (given at 0, 1, ..., len-1) at position x, clamped at both ends. */
export function interpolate(values: Float64Array, x: number): number {
  if (x <= 0) return values[0];
  const last = values.length - 1;
  if (x >= last) return values[last];
  const low = Math.floor(x);
  const fraction = x - low;
  return fraction === 0 ? values[low] : values[low] + (values[low + 1] - values[low]) * fraction;
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  const out = range(count).map((i) => i * step + start);
  out[count - 1] = stop;
  return out;
}

function arange(start: number, stop: number, step: number): number[] {
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count === 0) return [];
  const delta = start + step - start;
  return range(count).map((i) => start + i * delta);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function checkSteps(steps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new InputError(`steps: got ${steps}, expected an integer in [1, ${numTrainTimesteps}] (num_train_timesteps)`);
  }
}

/** diffusers would index past alphas_cumprod or repeat a timestep here; say why instead. */
function checked(timesteps: number[], config: SchedulerConfig, steps: number): number[] {
  const n = config.numTrainTimesteps;
  const where = `${steps} steps with timestep_spacing ${config.timestepSpacing}, steps_offset ${config.stepsOffset}`;
  if (timesteps.length === 0) throw new InputError(`${where}: no timesteps remain (lambda_min_clipped ${config.lambdaMinClipped})`);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (t < 0 && config.timestepSpacing === 'trailing') {
      // e.g. 61 steps over 1000: arange(1000, 0, -16.39...) has 62 entries, the last rounds to 0.
      throw new InputError(`${where}: diffusers' trailing spacing yields an extra timestep ${t} for this step count; choose another number of steps`);
    }
    if (!(t >= 0 && t <= n - 1)) {
      throw new InputError(`${where}: timestep ${t} falls outside [0, ${n - 1}] (num_train_timesteps ${n})`);
    }
    if (i > 0 && !(t < timesteps[i - 1])) {
      throw new InputError(`${where}: timestep ${t} repeats; use fewer steps`);
    }
  }
  return timesteps;
}
