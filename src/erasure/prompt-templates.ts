/**
 * Prompt templates per concept kind, in the spirit of UCE's expanded prompts: erasing
 * "Van Gogh" only in the bare prompt leaves "a painting in the style of Van Gogh" intact, so
 * each concept is written into several typical prompts. An erase concept and its anchor are
 * expanded with the same templates, so each erase prompt has an anchor prompt of the same shape
 * ("a photo of dog" -> "a photo of").
 */
import { InputError } from '../util/errors.ts';
import type { ConceptKind } from './concept-sets.ts';

export const TEMPLATE_SLOT = '{}';

export const PROMPT_TEMPLATES: Readonly<Record<ConceptKind, readonly string[]>> = {
  object: ['{}', 'a photo of {}', 'an image of {}', 'a picture of {}', 'a painting of {}', 'a close-up photo of {}'],
  style: ['{}', 'a painting in the style of {}', 'an artwork by {}', 'art by {}', 'a picture in the style of {}', 'a drawing by {}'],
  person: ['{}', 'a portrait of {}', 'a photo of {}', 'a close-up photo of {}', 'a still of {} in a movie', 'a painting of {}'],
};

/** A prompt with the character range its concept occupies (empty for the empty anchor). */
export interface TemplatedPrompt {
  readonly text: string;
  readonly template: string;
  readonly concept: string;
  /** [start, end) in `text`; the tokenizer maps it to the subject token span. */
  readonly subject: { readonly start: number; readonly end: number };
}

/** Writes `concept` into `template`; for "" the slot and its surrounding space vanish. */
export function fillTemplate(template: string, concept: string): TemplatedPrompt {
  const slot = template.indexOf(TEMPLATE_SLOT);
  if (slot < 0 || template.indexOf(TEMPLATE_SLOT, slot + 1) >= 0)
    throw new InputError(`prompt template: "${template}": expected exactly one ${TEMPLATE_SLOT} slot`);
  const trimmed = concept.trim();
  const before = template.slice(0, slot);
  const after = template.slice(slot + TEMPLATE_SLOT.length);
  if (trimmed === '') {
    const head = before.replace(/\s+$/, '');
    const tail = after.replace(/^\s+/, '');
    const text = head && tail ? `${head} ${tail}` : head + tail;
    return { text, template, concept: trimmed, subject: { start: head.length, end: head.length } };
  }
  return { text: before + trimmed + after, template, concept: trimmed, subject: { start: before.length, end: before.length + trimmed.length } };
}

/** The concept in every template of its kind (or in the given templates), bare prompt first. */
export function expandConcept(concept: string, kindOrTemplates: ConceptKind | readonly string[]): TemplatedPrompt[] {
  const templates = typeof kindOrTemplates === 'string' ? PROMPT_TEMPLATES[kindOrTemplates] : kindOrTemplates;
  if (templates === undefined) throw new InputError(`prompt templates: kind: expected one of ${Object.keys(PROMPT_TEMPLATES).join(', ')}, got ${String(kindOrTemplates)}`);
  if (templates.length === 0) throw new InputError('prompt templates: templates: expected at least one template');
  return templates.map((template) => fillTemplate(template, concept));
}

/** An erase prompt and its anchor prompt, written with the same template. */
export interface TemplatedPair {
  readonly erase: TemplatedPrompt;
  readonly anchor: TemplatedPrompt;
}

export function expandPair(concept: string, anchor: string, kindOrTemplates: ConceptKind | readonly string[]): TemplatedPair[] {
  const erase = expandConcept(concept, kindOrTemplates);
  const anchors = expandConcept(anchor, kindOrTemplates);
  return erase.map((prompt, i) => ({ erase: prompt, anchor: anchors[i] }));
}
