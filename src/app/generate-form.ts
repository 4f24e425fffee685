/** The generation panel's fields and the request they make; pure, so it is testable without a DOM. */
import type { GenerateParams } from '../engine/api.ts';
import { SCHEDULER_KINDS, type SchedulerKind } from '../pipeline/schedulers/scheduler.ts';
import { InputError } from '../util/errors.ts';

/** 'native': the pack's own sample size (the engine fills it in). */
export type SizeChoice = 'native' | number;

export interface GenerateForm {
  prompt: string;
  negativePrompt: string;
  seed: number;
  steps: number;
  guidance: number;
  scheduler: SchedulerKind;
  size: SizeChoice;
}

/** The settings of one before/after pair: both images share them, seed included. */
export type PairSettings = Omit<GenerateParams, 'jobId' | 'variant'>;

export const SIZE_CHOICES: readonly SizeChoice[] = ['native', 256, 512, 768];
export const MAX_STEPS = 200;
export const MAX_SEED = 0xffffffff;

export function initialGenerateForm(): GenerateForm {
  return { prompt: 'a photo of a cat', negativePrompt: '', seed: 42, steps: 20, guidance: 7.5, scheduler: 'ddim', size: 'native' };
}

/** A uniformly drawn uint32 seed (the dice button). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_SEED + 1)) >>> 0;
}

/** Validates the form; InputError says which field and what is allowed. */
/** What the field holds, in words: an empty number field is NaN, which no user typed. */
function got(value: number): string {
  return Number.isNaN(value) ? '; it is empty' : `, got ${value}`;
}

export function pairSettingsFor(form: GenerateForm): PairSettings {
  if (!Number.isInteger(form.seed) || form.seed < 0 || form.seed > MAX_SEED) throw new InputError(`Seed must be a whole number in 0..${MAX_SEED}${got(form.seed)}.`);
  if (!Number.isInteger(form.steps) || form.steps < 1 || form.steps > MAX_STEPS) throw new InputError(`Steps must be a whole number in 1..${MAX_STEPS}${got(form.steps)}.`);
  if (!Number.isFinite(form.guidance) || form.guidance < 0 || form.guidance > 50) throw new InputError(`Guidance must be a number in 0..50${got(form.guidance)}.`);
  if (!(SCHEDULER_KINDS as readonly string[]).includes(form.scheduler)) throw new InputError(`Scheduler must be one of ${SCHEDULER_KINDS.join(', ')}, got ${form.scheduler}.`);
  const settings: PairSettings = { prompt: form.prompt, seed: form.seed, steps: form.steps, guidance: form.guidance, scheduler: form.scheduler };
  if (form.negativePrompt.trim() !== '') settings.negativePrompt = form.negativePrompt;
  if (form.size !== 'native') {
    if (!Number.isInteger(form.size) || form.size < 8 || form.size % 8 !== 0) throw new InputError(`Size must be a multiple of 8 pixels, got ${form.size}.`);
    settings.width = form.size;
    settings.height = form.size;
  }
  return settings;
}

/** Parses a number field as typed; NaN when it is not a number (the validator reports it). */
export function numberField(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}
