import { FormatError, InputError } from '../util/errors.ts';
import { CLASS_SLOT, type EvaluationClass, type PlannedPrompt } from './protocol.ts';

/** The concept world's vocabulary as world.json states it (the fields evaluation reads). */
export interface ConceptWorld {
  objects: EvaluationClass[];
  styles: { name: string; words: string[] }[];
  evaluationTemplates: string[];
}

/** A named set of classes and the templates their prompts are made from. */
export interface EvaluationPreset {
  id: string;
  description: string;
  classes: EvaluationClass[];
  templates: string[];
}

export const PRESET_IDS = ['cifar10'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

/** Reads the fields of world.json that evaluation needs; anything missing is named. */
export function parseConceptWorld(json: unknown, file: string): ConceptWorld {
  if (typeof json !== 'object' || json === null) throw new FormatError(file, '(root)', 'expected a JSON object');
  const record = json as Record<string, unknown>;
  const list = (field: string): unknown[] => {
    const value = record[field];
    if (!Array.isArray(value) || value.length === 0) throw new FormatError(file, field, 'expected a non-empty list');
    return value;
  };
  const strings = (value: unknown, field: string): string[] => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new FormatError(file, field, 'expected a list of strings');
    return value as string[];
  };
  const objects = list('objects').map((o, i) => {
    const name = (o as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') throw new FormatError(file, `objects[${i}].name`, 'expected a class name');
    return { name, synonyms: strings((o as { synonyms?: unknown }).synonyms ?? [], `objects[${i}].synonyms`) };
  });
  const styles = list('styles').map((s, i) => {
    const name = (s as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') throw new FormatError(file, `styles[${i}].name`, 'expected a style name');
    return { name, words: strings((s as { words?: unknown }).words ?? [], `styles[${i}].words`) };
  });
  const evaluationTemplates = strings(list('evaluationTemplates'), 'evaluationTemplates');
  for (const [i, t] of evaluationTemplates.entries()) if (!t.includes(CLASS_SLOT)) throw new FormatError(file, `evaluationTemplates[${i}]`, `"${t}" has no ${CLASS_SLOT}`);
  return { objects, styles, evaluationTemplates };
}

/**
 * The CIFAR-10 preset: the concept world's ten objects with MACE's paraphrases, and only its
 * evaluation templates (the model never saw them in training). A `{style}` template is filled once
 * per style with the style's first word ("a pixel art image showing a {object}"); a style whose
 * first word is empty (plain) uses its next word, so no prompt has a double space.
 */
export function cifar10Preset(world: ConceptWorld): EvaluationPreset {
  const templates: string[] = [];
  for (const template of world.evaluationTemplates) {
    if (!template.includes('{style}')) {
      templates.push(template);
      continue;
    }
    for (const style of world.styles) {
      const word = style.words.find((w) => w.trim() !== '') ?? style.name;
      templates.push(template.split('{style}').join(word));
    }
  }
  return {
    id: 'cifar10',
    description: `CIFAR-10 objects of the concept world (${world.objects.length} classes, ${templates.length} evaluation templates)`,
    classes: world.objects.map((o) => ({ name: o.name, synonyms: [...o.synonyms] })),
    templates,
  };
}

/** Only the named classes of a preset, in the order given; unknown names are refused with the known ones listed. */
export function selectClasses(classes: readonly EvaluationClass[], names: readonly string[]): EvaluationClass[] {
  return names.map((name) => {
    const found = classes.find((c) => c.name === name);
    if (!found) throw new InputError(`evaluation: class "${name}" is not in the preset (its classes: ${classes.map((c) => c.name).join(', ')})`);
    return found;
  });
}

/**
 * A user's class list, one class per line: `name: synonym, synonym` (synonyms optional).
 * Blank lines and lines starting with # are skipped.
 */
export function parseClassList(text: string, file: string): EvaluationClass[] {
  const classes: EvaluationClass[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = (colon < 0 ? line : line.slice(0, colon)).trim();
    if (name === '') throw new FormatError(file, `line ${index + 1}`, 'expected "class" or "class: synonym, synonym"');
    const synonyms = colon < 0 ? [] : line.slice(colon + 1).split(',').map((s) => s.trim()).filter((s) => s !== '');
    classes.push({ name, synonyms });
  }
  if (classes.length === 0) throw new FormatError(file, '(content)', 'no classes: expected one "class: synonym, synonym" per line');
  return classes;
}

/**
 * A user's prompt file, one prompt per line: `class: prompt` (judged as a prompt of that class by
 * name) or `class/synonym: prompt` (a paraphrase of that class: counts toward Acc_g when the class
 * is erased). Blank lines and # comments are skipped.
 */
export function parsePromptFile(text: string, file: string): PlannedPrompt[] {
  const prompts: PlannedPrompt[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const head = colon < 0 ? '' : line.slice(0, colon).trim();
    const text = colon < 0 ? '' : line.slice(colon + 1).trim();
    if (head === '' || text === '') throw new FormatError(file, `line ${index + 1}`, 'expected "class: prompt" or "class/synonym: prompt"');
    const synonym = head.endsWith('/synonym');
    const className = synonym ? head.slice(0, -'/synonym'.length).trim() : head;
    if (className === '') throw new FormatError(file, `line ${index + 1}`, 'the class before ":" is empty');
    prompts.push({ text, className, term: className, kind: synonym ? 'synonym' : 'name' });
  }
  if (prompts.length === 0) throw new FormatError(file, '(content)', 'no prompts: expected one "class: prompt" per line');
  return prompts;
}

/** Classes implied by a prompt file (for evaluations without a preset): each class once, no synonyms. */
export function classesOfPrompts(prompts: readonly PlannedPrompt[]): EvaluationClass[] {
  const names: string[] = [];
  for (const p of prompts) if (!names.includes(p.className)) names.push(p.className);
  return names.map((name) => ({ name, synonyms: [] }));
}
