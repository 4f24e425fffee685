/** Per-objective bench flags ("60" for every objective, or "realera=40,esd-x=60"), shared by the fine-tuning benches. */
import { FINE_TUNE_OBJECTIVES, type FineTuneObjective } from '../src/erasure/fine-tune/fine-tune-options.ts';

/** `text` as one value for every objective or objective=value pairs (the others keep their defaults). */
export function parsePerObjective(text: string | undefined, flag: string, defaults: Record<FineTuneObjective, number>, valid: (text: string) => boolean): Record<FineTuneObjective, number> {
  const out = { ...defaults };
  if (text === undefined) return out;
  if (valid(text)) {
    for (const o of FINE_TUNE_OBJECTIVES) out[o] = Number(text);
    return out;
  }
  for (const part of text.split(',')) {
    const [name, value] = part.split('=');
    if (!FINE_TUNE_OBJECTIVES.includes(name as FineTuneObjective) || !valid(value ?? ''))
      throw new Error(`${flag}: expected a value or objective=value,... (objectives ${FINE_TUNE_OBJECTIVES.join(', ')}), got ${part}`);
    out[name as FineTuneObjective] = Number(value);
  }
  return out;
}

export const isStepCount = (text: string): boolean => /^\d+$/.test(text);
export const isLearningRate = (text: string): boolean => Number(text) > 0 && Number(text) <= 1;
