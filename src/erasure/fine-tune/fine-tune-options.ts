/**
 * Everything that decides a fine-tuning run, as the recipe's `fineTune` section: the objective,
 * which projections get LoRA factors and their rank and alpha, Adam's learning rate and clip,
 * steps, batch, the seed every random choice derives from, the objectives' weights and how the
 * training latents are made. The concept set and prompt templates come from the recipe itself,
 * so a recipe replays the same run bit for bit on the same adapter.
 *
 * Not here: how often a checkpoint is written or progress reported (they do not change the
 * result).
 */
import { InputError } from '../../util/errors.ts';

export const FINE_TUNE_OBJECTIVES = ['realera', 'esd-x', 'crce'] as const;
export type FineTuneObjective = (typeof FINE_TUNE_OBJECTIVES)[number];

/**
 * Which projections are trained. 'kv': every attn2 to_k and to_v, the projections the studio's
 * generation applies edits to (K/V are computed outside the UNet pieces), so a trained LoRA
 * shows in the after-image and re-imports pixel for pixel.
 */
export const TRAINED_LAYER_SETS = ['kv'] as const;
export type TrainedLayerSet = (typeof TRAINED_LAYER_SETS)[number];

/** Where training starts: the closed-form edit of the recipe (RealEra), or the original model (ESD-x, CRCE). */
export const FINE_TUNE_BASES = ['closed-form', 'original'] as const;
export type FineTuneBase = (typeof FINE_TUNE_BASES)[number];

/** CRCE's certainty labels for coreferential and retained concepts, and the weight each becomes. */
export const CERTAINTY_WEIGHTS = { 'very high': 1.0, high: 0.8, normal: 0.6, low: 0.4, 'very low': 0.2 } as const;
export type Certainty = keyof typeof CERTAINTY_WEIGHTS;

export interface FineTuneOptions {
  readonly objective: FineTuneObjective;
  readonly base: FineTuneBase;
  readonly layers: TrainedLayerSet;
  readonly rank: number;
  /** LoRA scale s = alpha / rank. */
  readonly alpha: number;
  readonly learningRate: number;
  /** Global gradient-norm clip (0: none). */
  readonly maxGradNorm: number;
  readonly steps: number;
  /** Training latents per step (their gradients are summed). */
  readonly batch: number;
  /** uint32; LoRA init, latents, timesteps, prompts and concept samples all derive from it. */
  readonly seed: number;
  /** ESD's negative guidance eta: target eps("") - eta (eps(c) - eps("")). */
  readonly eta: number;
  /** CRCE alpha (coref terms) and beta (retain terms). */
  readonly corefWeight: number;
  readonly retainWeight: number;
  /** CRCE M and N: corefs and retains sampled per step (fewer when the set has fewer). */
  readonly corefsPerStep: number;
  readonly retainsPerStep: number;
  /** DDIM steps of the latent-making schedule (ESD: z_t after a random number of them; RealEra: the anchor image). */
  readonly latentSteps: number;
  /** Classifier-free guidance while making latents. */
  readonly latentGuidance: number;
  /** Latent height = width (image pixels / 8). */
  readonly latentSize: number;
}

/** Per objective: the papers' settings (RealEra: lr 1e-5, 200 epochs; ESD-x: eta 1, lr 1e-5; CRCE: M = 5, N = 3, alpha = beta = 1). */
export function fineTuneDefaults(objective: FineTuneObjective, latentSize: number): FineTuneOptions {
  return {
    objective,
    base: objective === 'realera' ? 'closed-form' : 'original',
    layers: 'kv',
    rank: 4,
    alpha: 4,
    learningRate: 1e-5,
    maxGradNorm: 1,
    steps: objective === 'realera' ? 200 : objective === 'crce' ? 300 : 1000,
    batch: 1,
    seed: 0,
    eta: 1,
    corefWeight: 1,
    retainWeight: 1,
    corefsPerStep: 5,
    retainsPerStep: 3,
    latentSteps: 50,
    latentGuidance: 3,
    latentSize,
  };
}

/** The section's keys in canonical (serialization) order. */
export const FINE_TUNE_KEYS: readonly (keyof FineTuneOptions)[] = [
  'objective',
  'base',
  'layers',
  'rank',
  'alpha',
  'learningRate',
  'maxGradNorm',
  'steps',
  'batch',
  'seed',
  'eta',
  'corefWeight',
  'retainWeight',
  'corefsPerStep',
  'retainsPerStep',
  'latentSteps',
  'latentGuidance',
  'latentSize',
];

const MAX_STEPS = 1_000_000;

/**
 * Checks every field of an untrusted `fineTune` object (a recipe's, or defaults with overrides);
 * `report(field, detail)` names the failing field (default: an InputError "fineTune.field: ...").
 */
export function parseFineTuneOptions(
  value: unknown,
  report: (field: string, detail: string) => never = (field, detail) => {
    throw new InputError(`fineTune.${field}: ${detail}`);
  },
): FineTuneOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return report('(section)', `expected an object with ${FINE_TUNE_KEYS.join(', ')}`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) if (!(FINE_TUNE_KEYS as readonly string[]).includes(key)) report(key, `unknown field; expected one of ${FINE_TUNE_KEYS.join(', ')}`);
  for (const key of FINE_TUNE_KEYS) if (!Object.hasOwn(record, key)) report(key, 'missing');
  const literal = <T extends string>(key: keyof FineTuneOptions, allowed: readonly T[]): T => {
    const v = record[key];
    if (!allowed.includes(v as T)) report(key, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
    return v as T;
  };
  const number = (key: keyof FineTuneOptions, check: (v: number) => boolean, expected: string): number => {
    const v = record[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) report(key, `expected ${expected}, got ${describe(v)}`);
    return v as number;
  };
  const integer = (key: keyof FineTuneOptions, min: number, max: number): number => number(key, (v) => Number.isInteger(v) && v >= min && v <= max, `an integer in [${min}, ${max}]`);
  const positive = (key: keyof FineTuneOptions): number => number(key, (v) => v > 0, 'a finite number > 0');
  const nonNegative = (key: keyof FineTuneOptions): number => number(key, (v) => v >= 0, 'a finite number >= 0');
  const options: FineTuneOptions = {
    objective: literal('objective', FINE_TUNE_OBJECTIVES),
    base: literal('base', FINE_TUNE_BASES),
    layers: literal('layers', TRAINED_LAYER_SETS),
    rank: integer('rank', 1, 1024),
    alpha: positive('alpha'),
    learningRate: number('learningRate', (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    maxGradNorm: nonNegative('maxGradNorm'),
    steps: integer('steps', 1, MAX_STEPS),
    batch: integer('batch', 1, 64),
    seed: integer('seed', 0, 0xffffffff),
    eta: nonNegative('eta'),
    corefWeight: nonNegative('corefWeight'),
    retainWeight: nonNegative('retainWeight'),
    corefsPerStep: integer('corefsPerStep', 0, 64),
    retainsPerStep: integer('retainsPerStep', 0, 64),
    latentSteps: integer('latentSteps', 1, 1000),
    latentGuidance: number('latentGuidance', (v) => v >= 1 && v <= 50, 'a number in [1, 50]'),
    latentSize: integer('latentSize', 1, 512),
  };
  return options;
}

/** A fresh object in canonical key order. */
export function canonicalFineTune(options: FineTuneOptions): Record<string, unknown> {
  return Object.fromEntries(FINE_TUNE_KEYS.map((key) => [key, options[key]]));
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
