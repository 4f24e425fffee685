import { describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import { parseSchedulerConfig } from '../../src/pipeline/schedulers/scheduler-config.ts';
import { InputError } from '../../src/util/errors.ts';
import { SD15_CONFIG, SD21_CONFIG } from './scheduler-reference.ts';

describe('parseSchedulerConfig', () => {
  test('SD 1.5 file: its fields, and each sampler class default for the rest', () => {
    const ddim = parseSchedulerConfig(SD15_CONFIG, 'ddim');
    expect(ddim).toMatchObject({
      numTrainTimesteps: 1000,
      betaSchedule: 'scaled_linear',
      betaStart: 0.00085,
      betaEnd: 0.012,
      predictionType: 'epsilon',
      timestepSpacing: 'leading',
      stepsOffset: 1,
      setAlphaToOne: false,
      clipSample: false,
    });
    expect(parseSchedulerConfig(SD15_CONFIG, 'euler_a').timestepSpacing).toBe('linspace');
    expect(parseSchedulerConfig(SD15_CONFIG, 'dpmpp_2m')).toMatchObject({
      timestepSpacing: 'linspace',
      lowerOrderFinal: true,
      eulerAtFinal: false,
      finalSigmasType: 'zero',
      solverType: 'midpoint',
      lambdaMinClipped: -Infinity,
    });
    expect(parseSchedulerConfig(SD21_CONFIG, 'ddim').predictionType).toBe('v_prediction');
  });

  test('diffusers defaults when optional fields are absent (DDIM clips and sets alpha to one)', () => {
    const minimal = { num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 };
    expect(parseSchedulerConfig(minimal, 'ddim')).toMatchObject({ clipSample: true, clipSampleRange: 1, setAlphaToOne: true, stepsOffset: 0 });
  });

  test.each([
    [{ beta_schedule: undefined }, /beta_schedule: got nothing \(field missing\), expected one of scaled_linear, linear, squaredcos_cap_v2/],
    [{ beta_schedule: 'cosine' }, /beta_schedule: got "cosine", expected one of scaled_linear, linear, squaredcos_cap_v2/],
    [{ prediction_type: 'sample' }, /prediction_type: got "sample", expected one of epsilon, v_prediction/],
    [{ timestep_spacing: 'uniform' }, /timestep_spacing: got "uniform", expected one of leading, trailing, linspace/],
    [{ num_train_timesteps: undefined }, /num_train_timesteps: got nothing \(field missing\), expected an integer/],
    [{ num_train_timesteps: 999.5 }, /num_train_timesteps: got 999.5/],
    [{ beta_start: '0.00085' }, /beta_start: got "0.00085", expected a finite number/],
    [{ beta_end: 0.0001 }, /beta_end: got 0.0001, expected a number in \[beta_start, 1\)/],
    [{ steps_offset: -1 }, /steps_offset: got -1, expected an integer/],
    [{ set_alpha_to_one: 'no' }, /set_alpha_to_one: got "no", expected true or false/],
    [{ trained_betas: [0.1, 0.2] }, /trained_betas: custom beta arrays are not supported/],
    [{ thresholding: true }, /thresholding: got true, only false \(or absent\) is supported/],
    [{ rescale_betas_zero_snr: true }, /rescale_betas_zero_snr/],
  ])('DDIM refuses %j naming the field and what it accepts', (change, message) => {
    const config = { ...SD15_CONFIG, ...change };
    expect(() => parseSchedulerConfig(config, 'ddim')).toThrow(InputError);
    expect(() => parseSchedulerConfig(config, 'ddim')).toThrow(message);
  });

  test('sampler-specific options are checked only for the sampler that reads them', () => {
    const karras = { ...SD15_CONFIG, use_karras_sigmas: true };
    expect(() => parseSchedulerConfig(karras, 'dpmpp_2m')).toThrow(/use_karras_sigmas/);
    expect(parseSchedulerConfig(karras, 'ddim').kind).toBe('ddim');
    expect(() => parseSchedulerConfig({ ...SD15_CONFIG, final_sigmas_type: 'max' }, 'dpmpp_2m')).toThrow(/final_sigmas_type: got "max", expected one of zero, sigma_min/);
    expect(() => parseSchedulerConfig({ ...SD15_CONFIG, solver_type: 'bh2' }, 'dpmpp_2m')).toThrow(/solver_type: got "bh2", expected one of midpoint, heun/);
    expect(() => parseSchedulerConfig({ ...SD15_CONFIG, variance_type: 'learned' }, 'dpmpp_2m')).toThrow(/variance_type/);
  });

  test('not an object, or an unknown kind', () => {
    expect(() => parseSchedulerConfig(null, 'ddim')).toThrow(/scheduler_config.json: expected a JSON object, got null/);
    expect(() => parseSchedulerConfig([1], 'ddim')).toThrow(/got an array/);
    expect(() => parseSchedulerConfig(SD15_CONFIG, 'pndm' as never)).toThrow(/scheduler kind: got "pndm", expected one of ddim, euler_a, dpmpp_2m/);
  });
});

describe('createScheduler', () => {
  test('accepts the raw JSON or a parsed config of the same kind', () => {
    expect(createScheduler('ddim', SD15_CONFIG, 50).timesteps).toHaveLength(50);
    const parsed = parseSchedulerConfig(SD15_CONFIG, 'euler_a');
    expect(createScheduler('euler_a', parsed, 30).timesteps).toHaveLength(30);
    expect(() => createScheduler('ddim', parsed, 30)).toThrow(/parsed for euler_a, not ddim/);
  });

  test.each([0, -3, 2.5, 1001])('refuses %s steps', (steps) => {
    expect(() => createScheduler('dpmpp_2m', SD15_CONFIG, steps)).toThrow(/steps: got .*, expected an integer in \[1, 1000\]/);
  });

  test('eta belongs to DDIM and lies in [0, 1]', () => {
    expect(createScheduler('ddim', SD15_CONFIG, 10, { eta: 1 }).stochastic).toBe(true);
    expect(createScheduler('ddim', SD15_CONFIG, 10).stochastic).toBe(false);
    expect(() => createScheduler('ddim', SD15_CONFIG, 10, { eta: 1.5 })).toThrow(/eta: got 1.5, expected a number in \[0, 1\]/);
    expect(() => createScheduler('euler_a', SD15_CONFIG, 10, { eta: 0.5 })).toThrow(/only DDIM takes eta/);
  });
});
