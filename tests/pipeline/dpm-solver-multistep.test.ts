import { describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import { InputError } from '../../src/util/errors.ts';
import { SD15_CONFIG, SD21_CONFIG, maxScaledDiff, randomArray, referenceAlphasCumprod, sigmaAt } from './scheduler-reference.ts';

const alphas = referenceAlphasCumprod('scaled_linear', 0.00085, 0.012, 1000);
const LENGTH = 3 * 5 * 7;

/** A smooth, non-trivial stand-in for a UNet: output depends on the input and the step. */
function fakeModel(input: Float32Array, step: number): Float32Array {
  return Float32Array.from(input, (u, i) => 0.6 * u + 0.3 * Math.sin(1.7 * u + 0.4 * step + 0.01 * i));
}

interface Options {
  steps: number;
  finalSigma: 'zero' | 'sigma_min';
  lowerOrderFinal: boolean;
  solver: 'midpoint' | 'heun';
  v: boolean;
}

/**
 * DPM-Solver++(2M) as k-diffusion writes it (sample_dpmpp_2m) in the variance-exploding view
 * x_ve = x / alpha with t = -log(sigma): x_ve' = (sigma'/sigma) x_ve - expm1(-h) D, and for
 * second-order steps the midpoint combination D = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1} of the
 * paper's Algorithm 2, or the heun form x_ve' = ... - expm1(-h) D_i + (expm1(-h)/h + 1) (D_i - D_{i-1})/r.
 * First order on the first step and, following diffusers, on the last when it goes to sigma 0
 * or lower_order_final holds with fewer than 15 steps. Returns the VP sample after every step.
 */
function referenceTrajectory(timesteps: readonly number[], start: Float32Array, o: Options): Float32Array[] {
  const n = timesteps.length;
  const sigmas = [...timesteps.map((t) => sigmaAt(alphas, t)), o.finalSigma === 'zero' ? 0 : sigmaAt(alphas, 0)];
  let xVe = Array.from(start, (v) => v * Math.sqrt(sigmas[0] ** 2 + 1));
  let oldDenoised: number[] | null = null;
  const trajectory: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const cIn = 1 / Math.sqrt(sigma ** 2 + 1);
    const out = fakeModel(Float32Array.from(xVe, (v) => v * cIn), i);
    const denoised = xVe.map((x, k) => (o.v ? x / (sigma ** 2 + 1) - (sigma / Math.sqrt(sigma ** 2 + 1)) * out[k] : x - sigma * out[k]));
    const h = -Math.log(next) + Math.log(sigma);
    const firstOrder = oldDenoised === null || (i === n - 1 && (o.finalSigma === 'zero' || (o.lowerOrderFinal && n < 15)));
    if (firstOrder) {
      xVe = xVe.map((x, k) => (next === 0 ? denoised[k] : (next / sigma) * x - Math.expm1(-h) * denoised[k]));
    } else {
      const previous = oldDenoised as number[];
      const r = (Math.log(sigmas[i - 1]) - Math.log(sigma)) / h;
      xVe = xVe.map((x, k) => {
        if (o.solver === 'midpoint') {
          const d = (1 + 1 / (2 * r)) * denoised[k] - (1 / (2 * r)) * previous[k];
          return (next / sigma) * x - Math.expm1(-h) * d;
        }
        return (next / sigma) * x - Math.expm1(-h) * denoised[k] + (Math.expm1(-h) / h + 1) * ((denoised[k] - previous[k]) / r);
      });
    }
    oldDenoised = denoised;
    // The scheduler stores float32 VP samples; round the reference the same way between steps.
    const vp = Float32Array.from(xVe, (x) => x / Math.sqrt(next ** 2 + 1));
    xVe = Array.from(vp, (x) => x * Math.sqrt(next ** 2 + 1));
    trajectory.push(vp);
  }
  return trajectory;
}

function run(config: object, steps: number): { timesteps: readonly number[]; trajectory: Float32Array[] } {
  const scheduler = createScheduler('dpmpp_2m', config, steps);
  let sample = randomArray(51, LENGTH);
  const trajectory: Float32Array[] = [];
  scheduler.timesteps.forEach((_, i) => {
    sample = scheduler.step(fakeModel(scheduler.scaleModelInput(sample, i), i), i, sample);
    trajectory.push(sample);
  });
  return { timesteps: scheduler.timesteps, trajectory };
}

describe('DPM-Solver++ 2M', () => {
  test.each([
    ['10 steps, eps, final sigma 0', SD15_CONFIG, 10, { finalSigma: 'zero', lowerOrderFinal: true, solver: 'midpoint', v: false }],
    ['20 steps, eps, final sigma 0', SD15_CONFIG, 20, { finalSigma: 'zero', lowerOrderFinal: true, solver: 'midpoint', v: false }],
    ['20 steps, v, final sigma 0', SD21_CONFIG, 20, { finalSigma: 'zero', lowerOrderFinal: true, solver: 'midpoint', v: true }],
    ['10 steps, sigma_min: lower_order_final makes the last step first order', { ...SD15_CONFIG, final_sigmas_type: 'sigma_min' }, 10,
      { finalSigma: 'sigma_min', lowerOrderFinal: true, solver: 'midpoint', v: false }],
    ['20 steps, sigma_min: second order to the end', { ...SD15_CONFIG, final_sigmas_type: 'sigma_min' }, 20,
      { finalSigma: 'sigma_min', lowerOrderFinal: true, solver: 'midpoint', v: false }],
    ['10 steps, sigma_min, lower_order_final off', { ...SD15_CONFIG, final_sigmas_type: 'sigma_min', lower_order_final: false }, 10,
      { finalSigma: 'sigma_min', lowerOrderFinal: false, solver: 'midpoint', v: false }],
    ['12 steps, heun, v', { ...SD21_CONFIG, solver_type: 'heun' }, 12, { finalSigma: 'zero', lowerOrderFinal: true, solver: 'heun', v: true }],
  ] as const)('%s: every step of the trajectory matches', (_, config, steps, options) => {
    const { timesteps, trajectory } = run(config, steps);
    const want = referenceTrajectory(timesteps, randomArray(51, LENGTH), { ...options, steps });
    trajectory.forEach((got, i) => expect(maxScaledDiff(got, want[i]), `step ${i}`).toBeLessThan(1e-5));
  });

  test('an exact model lands on x0', () => {
    for (const [config, v] of [[SD15_CONFIG, false], [SD21_CONFIG, true]] as const) {
      const scheduler = createScheduler('dpmpp_2m', config, 8);
      const x0 = randomArray(71, LENGTH, 0.7);
      const eps0 = randomArray(72, LENGTH);
      const aStart = alphas[scheduler.timesteps[0]];
      let sample: Float32Array = Float32Array.from(x0, (v0, i) => Math.sqrt(aStart) * v0 + Math.sqrt(1 - aStart) * eps0[i]);
      scheduler.timesteps.forEach((t, index) => {
        const a = alphas[t];
        const oracle = Float32Array.from(sample, (s, i) => {
          const eps = (s - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a);
          return v ? Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0[i] : eps;
        });
        sample = scheduler.step(oracle, index, sample);
      });
      expect(maxScaledDiff(sample, x0)).toBeLessThan(1e-5);
    }
  });

  test('steps must run in order; step 0 starts over', () => {
    const scheduler = createScheduler('dpmpp_2m', SD15_CONFIG, 10);
    expect(scheduler.stochastic).toBe(false);
    const x = randomArray(81, LENGTH);
    expect(() => scheduler.step(x, 1, x)).toThrow(InputError);
    const first = scheduler.step(x, 0, x);
    expect(() => scheduler.step(x, 2, x)).toThrow(/multistep: steps must run 0, 1, 2, ... on one sample \(expected step 1, got 2\)/);
    scheduler.step(x, 1, first);
    expect(scheduler.step(x, 0, x)).toEqual(first);
    expect(() => scheduler.step(x.subarray(3), 1, x.subarray(3))).toThrow(InputError);
  });
});
