import { describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import { InputError, ShapeError } from '../../src/util/errors.ts';
import { SD15_CONFIG, SD21_CONFIG, maxScaledDiff, randomArray, referenceAlphasCumprod } from './scheduler-reference.ts';

const alphas = referenceAlphasCumprod('scaled_linear', 0.00085, 0.012, 1000);
const LENGTH = 4 * 9 * 7;

/** Solves [[p, q], [r, s]] [u, w] = [e, f] by Cramer's rule. */
function solve2(p: number, q: number, r: number, s: number, e: number, f: number): [number, number] {
  const det = p * s - q * r;
  return [(e * s - q * f) / det, (p * f - e * r) / det];
}

/**
 * DDIM eq. (12): x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z, with
 * eq. (16) sigma = eta sqrt((1 - a_prev)/(1 - a_t)) sqrt(1 - a_t/a_prev). (x0, eps) come from
 * x_t = sqrt(a) x0 + sqrt(1-a) eps and the model's output (eps itself, or v = sqrt(a) eps - sqrt(1-a) x0).
 */
function referenceDdimStep(x: number, out: number, a: number, aPrev: number, eta: number, z: number, v: boolean): number {
  const [x0, eps] = v
    ? solve2(Math.sqrt(a), Math.sqrt(1 - a), -Math.sqrt(1 - a), Math.sqrt(a), x, out)
    : [(x - Math.sqrt(1 - a) * out) / Math.sqrt(a), out];
  const sigma = eta * Math.sqrt((1 - aPrev) / (1 - a)) * Math.sqrt(1 - a / aPrev);
  return Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev - sigma * sigma) * eps + sigma * z;
}

describe('DDIM step', () => {
  const x = randomArray(11, LENGTH);
  const modelOutput = randomArray(12, LENGTH, 0.9);
  const z = randomArray(13, LENGTH);

  test.each([
    ['epsilon', SD15_CONFIG, 0],
    ['v_prediction', SD21_CONFIG, 0],
    ['epsilon', SD15_CONFIG, 0.7],
    ['v_prediction', SD21_CONFIG, 1],
  ] as const)('%s, eta %s: first, middle and last of 25 steps match eqs. (12)/(16)', (prediction, config, eta) => {
    const scheduler = createScheduler('ddim', config, 25, { eta });
    expect(scheduler.timesteps[0]).toBe(961); // leading, 1000 // 25 = 40, + steps_offset 1
    for (const index of [0, 12, 24]) {
      const t = scheduler.timesteps[index];
      const aPrev = t - 40 >= 0 ? alphas[t - 40] : alphas[0]; // set_alpha_to_one false
      let draws = 0;
      const got = scheduler.step(modelOutput, index, x, () => (draws++, z));
      expect(draws).toBe(eta > 0 ? 1 : 0);
      const want = Array.from(x, (xi, i) => referenceDdimStep(xi, modelOutput[i], alphas[t], aPrev, eta, z[i], prediction === 'v_prediction'));
      expect(maxScaledDiff(got, want)).toBeLessThan(2e-6);
    }
  });

  test('the last step lands on alpha 1 with set_alpha_to_one, and trailing spacing uses t - N // steps', () => {
    const scheduler = createScheduler('ddim', { ...SD15_CONFIG, set_alpha_to_one: true, timestep_spacing: 'trailing' }, 20);
    expect(scheduler.timesteps[19]).toBe(49);
    const got = scheduler.step(modelOutput, 19, x);
    const want = Array.from(x, (xi, i) => referenceDdimStep(xi, modelOutput[i], alphas[49], 1, 0, 0, false));
    expect(maxScaledDiff(got, want)).toBeLessThan(2e-6);
    const middle = scheduler.step(modelOutput, 5, x);
    const t = scheduler.timesteps[5];
    expect(t).toBe(749);
    const wantMiddle = Array.from(x, (xi, i) => referenceDdimStep(xi, modelOutput[i], alphas[749], alphas[699], 0, 0, false));
    expect(maxScaledDiff(middle, wantMiddle)).toBeLessThan(2e-6);
  });

  test('clip_sample clamps the predicted x0 to +-clip_sample_range', () => {
    const scheduler = createScheduler('ddim', { ...SD15_CONFIG, clip_sample: true, clip_sample_range: 0.5 }, 10);
    const t = scheduler.timesteps[3];
    const aPrev = alphas[t - 100];
    const got = scheduler.step(modelOutput, 3, x);
    x.forEach((xi, i) => {
      const x0 = Math.min(0.5, Math.max(-0.5, (xi - Math.sqrt(1 - alphas[t]) * modelOutput[i]) / Math.sqrt(alphas[t])));
      expect(got[i]).toBeCloseTo(Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * modelOutput[i], 5);
    });
  });

  test('eta 0 with the exact noise recovers x0 from x0 noised to the first timestep', () => {
    const x0 = randomArray(21, LENGTH, 0.8);
    const eps = randomArray(22, LENGTH);
    for (const setAlphaToOne of [true, false]) {
      const scheduler = createScheduler('ddim', { ...SD15_CONFIG, set_alpha_to_one: setAlphaToOne }, 50);
      const t0 = scheduler.timesteps[0];
      let sample: Float32Array = Float32Array.from(x0, (v, i) => Math.sqrt(alphas[t0]) * v + Math.sqrt(1 - alphas[t0]) * eps[i]);
      scheduler.timesteps.forEach((t, index) => {
        const oracle = Float32Array.from(sample, (v, i) => (v - Math.sqrt(alphas[t]) * x0[i]) / Math.sqrt(1 - alphas[t]));
        sample = scheduler.step(oracle, index, sample);
      });
      // Without set_alpha_to_one the chain stops at alpha_cumprod[0], one training step short of x0.
      const aEnd = setAlphaToOne ? 1 : alphas[0];
      const want = Array.from(x0, (v, i) => Math.sqrt(aEnd) * v + Math.sqrt(1 - aEnd) * eps[i]);
      expect(maxScaledDiff(sample, want)).toBeLessThan(1e-5);
    }
  });

  test('bad calls are refused', () => {
    const stochastic = createScheduler('ddim', SD15_CONFIG, 10, { eta: 0.5 });
    expect(() => stochastic.step(modelOutput, 0, x)).toThrow(InputError);
    expect(() => stochastic.step(modelOutput, 0, x)).toThrow(/DDIM with eta > 0 adds noise on this step: pass a noise source/);
    expect(() => stochastic.step(modelOutput, 0, x, () => z.subarray(1))).toThrow(ShapeError);
    expect(() => stochastic.step(modelOutput, 10, x, () => z)).toThrow(/step index: got 10, expected an integer in \[0, 9\]/);
    expect(() => stochastic.step(modelOutput.subarray(2), 0, x, () => z)).toThrow(ShapeError);
    const before = Float32Array.from(x);
    stochastic.step(modelOutput, 1, x, () => z);
    expect(x).toEqual(before);
  });
});
