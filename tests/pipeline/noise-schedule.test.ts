import { describe, expect, test } from 'vitest';
import { alphasCumprod, betas } from '../../src/pipeline/schedulers/noise-schedule.ts';
import { addNoise, velocity } from '../../src/pipeline/schedulers/forward-process.ts';
import { parseSchedulerConfig } from '../../src/pipeline/schedulers/scheduler-config.ts';
import { InputError, ShapeError } from '../../src/util/errors.ts';
import { SD15_CONFIG, randomArray, referenceAlphasCumprod } from './scheduler-reference.ts';

const sd = parseSchedulerConfig(SD15_CONFIG, 'ddim');

describe('alphasCumprod', () => {
  test.each([
    ['scaled_linear', 0.00085, 0.012],
    ['linear', 0.0001, 0.02],
    ['linear', 0.00085, 0.012],
  ] as const)('%s %s..%s matches the float64 log-sum reference', (schedule, betaStart, betaEnd) => {
    const got = alphasCumprod({ numTrainTimesteps: 1000, betaSchedule: schedule, betaStart, betaEnd });
    const want = referenceAlphasCumprod(schedule, betaStart, betaEnd, 1000);
    for (let t = 0; t < 1000; t++) expect(Math.abs(got[t] - want[t]) / want[t]).toBeLessThan(1e-12);
    for (let t = 1; t < 1000; t++) expect(got[t]).toBeLessThan(got[t - 1]);
    expect(got[999]).toBeGreaterThan(0);
  });

  test('Stable Diffusion 1.x/2.x published values', () => {
    const a = alphasCumprod(sd);
    expect(a[0]).toBeCloseTo(1 - 0.00085, 15);
    expect(a[999]).toBeCloseTo(0.00466, 5);
    // k-diffusion's sigma range for SD: sigma_min 0.0291675, sigma_max 14.614642.
    expect(Math.sqrt((1 - a[0]) / a[0])).toBeCloseTo(0.0291675, 6);
    expect(Math.sqrt((1 - a[999]) / a[999])).toBeCloseTo(14.614642, 4);
    // Middle of the scaled_linear schedule: beta_499 from its definition.
    const beta = betas(sd);
    const f = 499 / 999;
    expect(beta[499]).toBeCloseTo(((1 - f) * Math.sqrt(0.00085) + f * Math.sqrt(0.012)) ** 2, 15);
  });

  test('DDPM linear schedule ends at 4.0358e-5', () => {
    const a = alphasCumprod({ numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    expect(a[0]).toBeCloseTo(0.9999, 15);
    expect(a[999] / 4.0358e-5).toBeCloseTo(1, 4);
  });

  test('squaredcos_cap_v2 telescopes to alpha_bar((t+1)/N) / alpha_bar(0) until the 0.999 cap', () => {
    const n = 1000;
    const a = alphasCumprod({ numTrainTimesteps: n, betaSchedule: 'squaredcos_cap_v2', betaStart: 0, betaEnd: 0 });
    const alphaBar = (s: number): number => Math.cos(((s + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 1, 10, 250, 500, 900, 990]) expect(a[t] / (alphaBar((t + 1) / n) / alphaBar(0))).toBeCloseTo(1, 10);
    // The last beta is capped at 0.999 (uncapped it would be 1).
    const beta = betas({ numTrainTimesteps: n, betaSchedule: 'squaredcos_cap_v2', betaStart: 0, betaEnd: 0 });
    expect(beta[n - 1]).toBe(0.999);
    for (let t = 1; t < n; t++) expect(a[t]).toBeLessThan(a[t - 1]);
  });
});

describe('forward process', () => {
  const a = alphasCumprod(sd);
  const x0 = randomArray(1, 257);
  const noise = randomArray(2, 257);

  test.each([0, 1, 500, 999])('addNoise and velocity at t=%i follow q(x_t|x_0)', (t) => {
    const xt = addNoise(x0, noise, t, a);
    const v = velocity(x0, noise, t, a);
    const s = Math.sqrt(a[t]);
    const c = Math.sqrt(1 - a[t]);
    for (let i = 0; i < x0.length; i++) {
      expect(xt[i]).toBeCloseTo(s * x0[i] + c * noise[i], 6);
      // v-parameterisation inverts: x0 = s x_t - c v, eps = c x_t + s v.
      expect(s * xt[i] - c * v[i]).toBeCloseTo(x0[i], 5);
      expect(c * xt[i] + s * v[i]).toBeCloseTo(noise[i], 5);
    }
  });

  test('bad timesteps and lengths are refused', () => {
    expect(() => addNoise(x0, noise, 1000, a)).toThrow(InputError);
    expect(() => addNoise(x0, noise, 1.5, a)).toThrow(/timestep: got 1.5/);
    expect(() => velocity(x0, noise.subarray(1), 3, a)).toThrow(ShapeError);
  });
});
