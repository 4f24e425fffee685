import { InputError } from '../util/errors.ts';

/** A class the judge can name, with the paraphrases that must be erased along with it. */
export interface EvaluationClass {
  name: string;
  synonyms: string[];
}

/** What a prompt stands for: the class it names and whether it names it by name or by a synonym. */
export interface PlannedPrompt {
  text: string;
  /** The prompted class (a name in the protocol's classes): the judge's probability of it is the score. */
  className: string;
  /** The word the prompt uses for the class (the class name or one of its synonyms). */
  term: string;
  kind: 'name' | 'synonym';
}

/** Sampling settings shared by every image of an evaluation (the same for before and after). */
export interface SamplingSettings {
  steps: number;
  guidance: number;
  scheduler: 'ddim' | 'euler_a' | 'dpmpp_2m';
  negativePrompt: string;
}

/**
 * Everything that decides which images are made: replaying a protocol on the same pack and edit
 * makes the same images (Lethe's noise is seeded Philox, the same on every machine).
 */
export interface EvaluationProtocol {
  classes: EvaluationClass[];
  /** Classes the edit erases; the rest are kept. */
  erased: string[];
  prompts: PlannedPrompt[];
  /** K seeds: every prompt is drawn once per seed, before and after alike. */
  seeds: number[];
  sampling: SamplingSettings;
}

/** The placeholder a template puts its class word in. */
export const CLASS_SLOT = '{object}';

/**
 * The prompts of an evaluation, as MACE and RealEra set them up: every template filled with every
 * class name (Acc_e on the erased classes', Acc_s on the kept classes'), and with every synonym of
 * the erased classes (Acc_g). Synonyms of kept classes are not drawn: no number uses them.
 */
export function planPrompts(classes: readonly EvaluationClass[], erased: readonly string[], templates: readonly string[]): PlannedPrompt[] {
  checkClasses(classes);
  if (templates.length === 0) throw new InputError('evaluation: at least one prompt template is needed');
  for (const template of templates) {
    if (!template.includes(CLASS_SLOT)) throw new InputError(`evaluation: template "${template}" has no ${CLASS_SLOT} slot for the class`);
  }
  checkErased(classes, erased);
  const prompts: PlannedPrompt[] = [];
  for (const c of classes) for (const template of templates) prompts.push({ text: fill(template, c.name), className: c.name, term: c.name, kind: 'name' });
  for (const c of classes) {
    if (!erased.includes(c.name)) continue;
    for (const synonym of c.synonyms) for (const template of templates) prompts.push({ text: fill(template, synonym), className: c.name, term: synonym, kind: 'synonym' });
  }
  return prompts;
}

/** The seeds 0..K-1 shifted by `first`: K seeds per prompt. */
export function seedList(count: number, first = 0): number[] {
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new InputError(`evaluation: the number of seeds must be an integer in [1, 1000], got ${count}`);
  if (!Number.isInteger(first) || first < 0 || first + count > 2 ** 32) throw new InputError(`evaluation: the first seed must be a non-negative integer, got ${first}`);
  return Array.from({ length: count }, (_, i) => first + i);
}

export function checkClasses(classes: readonly EvaluationClass[]): void {
  if (classes.length < 2) throw new InputError(`evaluation: at least two classes are needed (one erased, one kept), got ${classes.length}`);
  const seen = new Set<string>();
  for (const c of classes) {
    if (c.name.trim() === '') throw new InputError('evaluation: a class has an empty name');
    if (seen.has(c.name)) throw new InputError(`evaluation: class "${c.name}" is listed twice`);
    seen.add(c.name);
  }
}

export function checkErased(classes: readonly EvaluationClass[], erased: readonly string[]): void {
  if (erased.length === 0) throw new InputError('evaluation: name the erased class (one of the classes)');
  const names = classes.map((c) => c.name);
  for (const name of erased) {
    if (!names.includes(name)) throw new InputError(`evaluation: erased class "${name}" is not one of the classes (${names.join(', ')})`);
  }
  if (erased.length >= classes.length) throw new InputError('evaluation: every class is erased; at least one must be kept for Acc_s');
}

/** Which erased classes an edit's concept names: the class itself or one of its synonyms, case-insensitively. */
export function classesForConcepts(classes: readonly EvaluationClass[], concepts: readonly string[]): string[] {
  const found: string[] = [];
  for (const concept of concepts) {
    const key = concept.trim().toLowerCase();
    const hit = classes.find((c) => c.name.toLowerCase() === key || c.synonyms.some((s) => s.toLowerCase() === key));
    if (hit && !found.includes(hit.name)) found.push(hit.name);
  }
  return found;
}

function fill(template: string, word: string): string {
  return template.split(CLASS_SLOT).join(word);
}
