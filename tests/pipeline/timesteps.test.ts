import { describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import type { EulerAncestralScheduler } from '../../src/pipeline/schedulers/euler-ancestral.ts';
import type { DpmSolverMultistepScheduler } from '../../src/pipeline/schedulers/dpm-solver-multistep.ts';
import { alphasCumprod } from '../../src/pipeline/schedulers/noise-schedule.ts';
import { parseSchedulerConfig } from '../../src/pipeline/schedulers/scheduler-config.ts';
import { InputError } from '../../src/util/errors.ts';
import { SD15_CONFIG, roundRational, sigmaAt } from './scheduler-reference.ts';

const N = 1000;
const spacing = (s: string) => ({ ...SD15_CONFIG, timestep_spacing: s });

/* Exact-rational references for N = 1000, steps_offset = 1 (the SD 1.x/2.x files). */
const leading = (steps: number): number[] => Array.from({ length: steps }, (_, k) => 1 + (steps - 1 - k) * Math.floor(N / steps));
const trailing = (steps: number): number[] => Array.from({ length: steps }, (_, k) => roundRational(N * (steps - k), steps) - 1);
const linspaceRounded = (points: number, last: number): number[] =>
  Array.from({ length: points }, (_, k) => roundRational(last * (points - 1 - k), points - 1));

describe('sampling timesteps', () => {
  test('SD 1.5 DDIM, 50 steps, leading: 981, 961, ..., 1', () => {
    const timesteps = createScheduler('ddim', SD15_CONFIG, 50).timesteps;
    expect(timesteps[0]).toBe(981);
    expect(timesteps[1]).toBe(961);
    expect(timesteps[49]).toBe(1);
    expect(timesteps).toEqual(leading(50));
  });

  test('SD 1.5 DPM-Solver++ 20 steps (linspace over 21 points, last dropped)', () => {
    expect(createScheduler('dpmpp_2m', SD15_CONFIG, 20).timesteps).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
  });

  describe.each([20, 25, 50])('%i steps', (steps) => {
    test('DDIM leading / trailing / linspace', () => {
      expect(createScheduler('ddim', spacing('leading'), steps).timesteps).toEqual(leading(steps));
      expect(createScheduler('ddim', spacing('trailing'), steps).timesteps).toEqual(trailing(steps));
      expect(createScheduler('ddim', spacing('linspace'), steps).timesteps).toEqual(linspaceRounded(steps, N - 1));
    });

    test('Euler ancestral: leading / trailing integers, linspace float32 fractions', () => {
      expect(createScheduler('euler_a', spacing('leading'), steps).timesteps).toEqual(leading(steps));
      expect(createScheduler('euler_a', spacing('trailing'), steps).timesteps).toEqual(trailing(steps));
      const linear = createScheduler('euler_a', spacing('linspace'), steps).timesteps;
      linear.forEach((t, k) => {
        const exact = ((N - 1) * (steps - 1 - k)) / (steps - 1);
        expect(Math.abs(t - exact)).toBeLessThanOrEqual(exact * 2 ** -23);
        expect(Math.fround(t)).toBe(t);
      });
    });

    test('DPM-Solver++: steps + 1 points with the last (t = 0) dropped', () => {
      expect(createScheduler('dpmpp_2m', spacing('linspace'), steps).timesteps).toEqual(linspaceRounded(steps + 1, N - 1).slice(0, steps));
      const ratio = Math.floor(N / (steps + 1));
      expect(createScheduler('dpmpp_2m', spacing('leading'), steps).timesteps).toEqual(
        Array.from({ length: steps }, (_, k) => 1 + (steps - k) * ratio),
      );
      expect(createScheduler('dpmpp_2m', spacing('trailing'), steps).timesteps).toEqual(trailing(steps));
    });
  });

  test('numpy float rounding is reproduced (values computed with numpy 2.4)', () => {
    // np.linspace(0, 999, 27)[13] == 499.49999999999994, so diffusers rounds to 499, not 500.
    expect(createScheduler('ddim', spacing('linspace'), 27).timesteps[13]).toBe(499);
    // np.arange(1000, 0, -1000/48)[3] == 937.4999999999999 -> 937 - 1.
    expect(createScheduler('ddim', spacing('trailing'), 48).timesteps[3]).toBe(936);
  });

  test('trailing spacing with an extra timestep -1 (61 steps) is refused with a reason', () => {
    expect(() => createScheduler('euler_a', spacing('trailing'), 61)).toThrow(InputError);
    expect(() => createScheduler('euler_a', spacing('trailing'), 61)).toThrow(/extra timestep -1 .* choose another number of steps/);
  });

  test('leading spacing past the last training timestep is refused', () => {
    expect(() => createScheduler('ddim', SD15_CONFIG, 1000)).toThrow(/timestep 1000 falls outside \[0, 999\]/);
  });

  test('lambda_min_clipped removes the top timesteps whose log-SNR is below it', () => {
    const a = alphasCumprod(parseSchedulerConfig(SD15_CONFIG, 'dpmpp_2m'));
    const lambda = (t: number): number => 0.5 * Math.log(a[t] / (1 - a[t]));
    const cut = (lambda(899) + lambda(900)) / 2;
    const timesteps = createScheduler('dpmpp_2m', { ...SD15_CONFIG, lambda_min_clipped: cut }, 10).timesteps;
    expect(timesteps).toEqual(linspaceRounded(11, 899).slice(0, 10));
  });
});

describe('sigmas and input scaling', () => {
  const a = alphasCumprod(parseSchedulerConfig(SD15_CONFIG, 'euler_a'));

  test('Euler: sigma interpolated linearly at fractional timesteps, then 0', () => {
    const scheduler = createScheduler('euler_a', SD15_CONFIG, 30) as EulerAncestralScheduler;
    scheduler.timesteps.forEach((t, i) => expect(scheduler.sigmas[i]).toBeCloseTo(sigmaAt(a, t), 12));
    expect(scheduler.sigmas[30]).toBe(0);
    expect(scheduler.initNoiseSigma).toBeCloseTo(14.614642, 4);
    const input = new Float32Array([1, -2, 3]);
    const scaled = scheduler.scaleModelInput(input, 4);
    const factor = 1 / Math.sqrt(sigmaAt(a, scheduler.timesteps[4]) ** 2 + 1);
    scaled.forEach((v, i) => expect(v).toBeCloseTo(input[i] * factor, 6));
  });

  test('Euler with leading spacing starts from sqrt(sigma_max^2 + 1)', () => {
    const scheduler = createScheduler('euler_a', spacing('leading'), 50);
    expect(scheduler.timesteps[0]).toBe(981);
    expect(scheduler.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmaAt(a, 981) ** 2 + 1), 10);
  });

  test('DPM-Solver++ ends at sigma 0 or sigma_min; DDIM and DPM do not scale the input', () => {
    const zero = createScheduler('dpmpp_2m', SD15_CONFIG, 12) as DpmSolverMultistepScheduler;
    expect(zero.sigmas[12]).toBe(0);
    const min = createScheduler('dpmpp_2m', { ...SD15_CONFIG, final_sigmas_type: 'sigma_min' }, 12) as DpmSolverMultistepScheduler;
    expect(min.sigmas[12]).toBeCloseTo(0.0291675, 6);
    const x = new Float32Array([0.5, 2]);
    expect(zero.scaleModelInput(x, 0)).toEqual(x);
    expect(createScheduler('ddim', SD15_CONFIG, 12).scaleModelInput(x, 3)).toEqual(x);
    expect(zero.initNoiseSigma).toBe(1);
  });
});
