import { InputError } from '../../util/errors.ts';
import { SCHEDULER_KINDS, type SchedulerKind } from './scheduler.ts';

export const BETA_SCHEDULES = ['scaled_linear', 'linear', 'squaredcos_cap_v2'] as const;
export const PREDICTION_TYPES = ['epsilon', 'v_prediction'] as const;
export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export const FINAL_SIGMA_TYPES = ['zero', 'sigma_min'] as const;
export const SOLVER_TYPES = ['midpoint', 'heun'] as const;

export type BetaSchedule = (typeof BETA_SCHEDULES)[number];
export type PredictionType = (typeof PREDICTION_TYPES)[number];
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** The forward (noising) process: all that training and `alphasCumprod` need. */
export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betaSchedule: BetaSchedule;
  /** Unused by squaredcos_cap_v2 (then 0). */
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly predictionType: PredictionType;
}

/** A validated scheduler_config.json with diffusers' defaults for the chosen sampler filled in. */
export interface SchedulerConfig extends NoiseSchedule {
  readonly kind: SchedulerKind;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** DDIM: alpha_cumprod "before" timestep 0 is 1 (true) or alphas_cumprod[0] (false). */
  readonly setAlphaToOne: boolean;
  /** DDIM: clamp the predicted x0 to +-clipSampleRange (off for latent diffusion). */
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  /** DPM-Solver++: take a first-order final step when there are fewer than 15 steps. */
  readonly lowerOrderFinal: boolean;
  /** DPM-Solver++: always take a first-order final step. */
  readonly eulerAtFinal: boolean;
  readonly finalSigmasType: (typeof FINAL_SIGMA_TYPES)[number];
  readonly solverType: (typeof SOLVER_TYPES)[number];
  /** DPM-Solver++: timesteps whose log-SNR lambda falls below this are not used. */
  readonly lambdaMinClipped: number;
}

const FILE = 'scheduler_config.json';
const MAX_TRAIN_TIMESTEPS = 100_000;

/** diffusers' constructor defaults differ per class: a field absent from the file takes the sampler's own. */
const DEFAULT_SPACING: Record<SchedulerKind, TimestepSpacing> = { ddim: 'leading', euler_a: 'linspace', dpmpp_2m: 'linspace' };

/** Sigma-spacing variants and other options Lethe does not implement: accepted only at their off value. */
const UNSUPPORTED_WHEN_SET: Record<SchedulerKind, readonly string[]> = {
  ddim: ['thresholding', 'rescale_betas_zero_snr'],
  euler_a: ['rescale_betas_zero_snr'],
  dpmpp_2m: [
    'thresholding',
    'rescale_betas_zero_snr',
    'use_karras_sigmas',
    'use_exponential_sigmas',
    'use_beta_sigmas',
    'use_lu_lambdas',
    'use_flow_sigmas',
    'use_dynamic_shifting',
  ],
};

/**
 * Validates a diffusers scheduler/scheduler_config.json object for `kind`.
 *
 * Fields another scheduler class wrote (skip_prk_steps, _class_name, ...) are ignored, as
 * diffusers ignores them. `algorithm_type` and `solver_order` are ignored too: the kind
 * (DPM-Solver++ 2M) decides them. Absent optional fields take the defaults diffusers' class
 * for `kind` has, as `XScheduler.from_pretrained(repo, subfolder="scheduler")` does.
 */
export function parseSchedulerConfig(json: unknown, kind: SchedulerKind): SchedulerConfig {
  if (!(SCHEDULER_KINDS as readonly string[]).includes(kind)) {
    throw new InputError(`scheduler kind: got ${JSON.stringify(kind)}, expected one of ${SCHEDULER_KINDS.join(', ')}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(`${FILE}: expected a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const fields = json as Record<string, unknown>;
  const present = (name: string): boolean => fields[name] !== undefined && fields[name] !== null;

  if (present('trained_betas')) {
    throw new InputError(`${FILE}: trained_betas: custom beta arrays are not supported, expected null or absent`);
  }
  for (const name of UNSUPPORTED_WHEN_SET[kind]) {
    if (present(name) && fields[name] !== false) {
      throw new InputError(`${FILE}: ${name}: got ${JSON.stringify(fields[name])}, only false (or absent) is supported`);
    }
  }
  if (kind === 'dpmpp_2m' && present('variance_type')) {
    throw new InputError(`${FILE}: variance_type: got ${JSON.stringify(fields.variance_type)}, only null (or absent) is supported`);
  }

  const numTrainTimesteps = integerField(fields, 'num_train_timesteps', undefined, 2, MAX_TRAIN_TIMESTEPS);
  const betaSchedule = choiceField(fields, 'beta_schedule', BETA_SCHEDULES, undefined);
  let betaStart = 0;
  let betaEnd = 0;
  if (betaSchedule !== 'squaredcos_cap_v2') {
    betaStart = numberField(fields, 'beta_start', undefined);
    betaEnd = numberField(fields, 'beta_end', undefined);
    if (!(betaStart > 0 && betaStart < 1)) throw new InputError(`${FILE}: beta_start: got ${betaStart}, expected a number in (0, 1)`);
    if (!(betaEnd >= betaStart && betaEnd < 1)) {
      throw new InputError(`${FILE}: beta_end: got ${betaEnd}, expected a number in [beta_start, 1) = [${betaStart}, 1)`);
    }
  }

  const clipSampleRange = numberField(fields, 'clip_sample_range', 1);
  if (!(clipSampleRange > 0)) throw new InputError(`${FILE}: clip_sample_range: got ${clipSampleRange}, expected a positive number`);

  return {
    kind,
    numTrainTimesteps,
    betaSchedule,
    betaStart,
    betaEnd,
    predictionType: choiceField(fields, 'prediction_type', PREDICTION_TYPES, 'epsilon'),
    timestepSpacing: choiceField(fields, 'timestep_spacing', TIMESTEP_SPACINGS, DEFAULT_SPACING[kind]),
    stepsOffset: integerField(fields, 'steps_offset', 0, 0, numTrainTimesteps - 1),
    setAlphaToOne: booleanField(fields, 'set_alpha_to_one', true),
    clipSample: booleanField(fields, 'clip_sample', true),
    clipSampleRange,
    lowerOrderFinal: booleanField(fields, 'lower_order_final', true),
    eulerAtFinal: booleanField(fields, 'euler_at_final', false),
    finalSigmasType: choiceField(fields, 'final_sigmas_type', FINAL_SIGMA_TYPES, 'zero'),
    solverType: choiceField(fields, 'solver_type', SOLVER_TYPES, 'midpoint'),
    // JSON cannot spell -Infinity, so the diffusers default is "absent".
    lambdaMinClipped: numberField(fields, 'lambda_min_clipped', -Infinity),
  };
}

function valueOf(fields: Record<string, unknown>, name: string): unknown {
  const value = fields[name];
  return value === null ? undefined : value;
}

function choiceField<T extends string>(fields: Record<string, unknown>, name: string, accepted: readonly T[], fallback: T | undefined): T {
  const value = valueOf(fields, name);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(accepted as readonly string[]).includes(value)) {
    const got = value === undefined ? 'nothing (field missing)' : JSON.stringify(value);
    throw new InputError(`${FILE}: ${name}: got ${got}, expected one of ${accepted.join(', ')}`);
  }
  return value as T;
}

function numberField(fields: Record<string, unknown>, name: string, fallback: number | undefined): number {
  const value = valueOf(fields, name);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const got = value === undefined ? 'nothing (field missing)' : JSON.stringify(value);
    throw new InputError(`${FILE}: ${name}: got ${got}, expected a finite number`);
  }
  return value;
}

function integerField(fields: Record<string, unknown>, name: string, fallback: number | undefined, min: number, max: number): number {
  const value = valueOf(fields, name);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const got = value === undefined ? 'nothing (field missing)' : JSON.stringify(value);
    throw new InputError(`${FILE}: ${name}: got ${got}, expected an integer in [${min}, ${max}]`);
  }
  return value;
}

function booleanField(fields: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = valueOf(fields, name);
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InputError(`${FILE}: ${name}: got ${JSON.stringify(value)}, expected true or false`);
  return value;
}
