/**
 * The concept panel's state and its mapping to an EraseRequest; pure, so it is testable without
 * a DOM. The form holds what the user typed (blank rows, unnormalized text); `eraseRequestFor`
 * trims, drops blank rows, and validates through the same parser recipes use, so a contradiction
 * (a concept both erased and preserved) is reported before the engine is asked.
 */
import type { EraseRequest } from '../engine/api.ts';
import { REALERA_CLOSED_FORM, UCE_CLOSED_FORM, type ClosedFormSettings } from '../erasure/closed-form-problem.ts';
import { parseConceptSet, type ConceptKind, type ConceptSet, type ConceptSetInput } from '../erasure/concept-sets.ts';
import { REALERA_DEFAULTS } from '../erasure/realera.ts';
import type { ErasureMethod, ErasureRecipe } from '../erasure/recipe.ts';
import type { SharedRowsMode } from '../erasure/shared-rows.ts';
import type { TokenSelectionMode } from '../erasure/token-selection.ts';
import { InputError } from '../util/errors.ts';
import { describeEntered, messageInWords } from './field-words.ts';

export interface ChipValue {
  concept: string;
  weight: number;
}

export interface TargetForm {
  concept: string;
  weight: number;
  /** "" is the empty prompt, the default anchor. */
  anchor: string;
  corefs: ChipValue[];
}

/** The RealEra options the panel exposes (the rest keep REALERA_DEFAULTS). */
export interface RealEraForm {
  s1: number;
  s2: number;
  m: number;
  n: number;
  d1: number;
  d2: number;
  seed: number;
}

export interface ConceptForm {
  kind: ConceptKind;
  targets: TargetForm[];
  retains: ChipValue[];
  preserve: ChipValue[];
  method: ErasureMethod;
  tokens: TokenSelectionMode;
  sharedRows: SharedRowsMode;
  lambda: number;
  eraseScale: number;
  preserveScale: number;
  realera: RealEraForm;
}

export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export function emptyTarget(): TargetForm {
  return { concept: '', weight: 1, anchor: '', corefs: [] };
}

export const DEFAULT_REALERA_FORM: RealEraForm = {
  s1: REALERA_DEFAULTS.s1,
  s2: REALERA_DEFAULTS.s2,
  m: REALERA_DEFAULTS.m,
  n: REALERA_DEFAULTS.n,
  d1: REALERA_DEFAULTS.d1,
  d2: REALERA_DEFAULTS.d2,
  seed: 0,
};

export function closedFormPreset(method: ErasureMethod): ClosedFormSettings {
  return method === 'realera' ? REALERA_CLOSED_FORM : UCE_CLOSED_FORM;
}

export function initialConceptForm(): ConceptForm {
  return {
    kind: 'object',
    targets: [emptyTarget()],
    retains: [],
    preserve: [],
    method: 'uce',
    // UCE 2023 and RealEra both constrain the subject tokens and those after it.
    tokens: 'subject',
    sharedRows: 'keep',
    ...UCE_CLOSED_FORM,
    realera: { ...DEFAULT_REALERA_FORM },
  };
}

/** Switching the method loads that method's closed-form settings (RealEra weighs preserve at 0.1). */
export function withMethod(form: ConceptForm, method: ErasureMethod): ConceptForm {
  if (method === form.method) return form;
  return { ...form, method, ...closedFormPreset(method) };
}

const SETTING_NAMES: Record<keyof ClosedFormSettings, string> = { lambda: 'lambda', eraseScale: 'erase scale', preserveScale: 'preserve scale' };

/**
 * What switching the method changes besides the method, in words ("preserve scale 1 → 0.1"), so
 * the panel can say it instead of changing a setting silently. Empty when nothing else changes.
 */
export function methodSwitchChanges(before: ConceptForm, after: ConceptForm): string[] {
  const changes: string[] = [];
  for (const key of Object.keys(SETTING_NAMES) as (keyof ClosedFormSettings)[])
    if (before[key] !== after[key]) changes.push(`${SETTING_NAMES[key]} ${before[key]} → ${after[key]}`);
  return changes;
}

/** Every concept the form erases or keeps, normalized, for de-duplication. */
function claimedConcepts(form: ConceptForm): Set<string> {
  const claimed = new Set<string>();
  for (const target of form.targets) {
    claimed.add(normalize(target.concept));
    for (const coref of target.corefs) claimed.add(normalize(coref.concept));
  }
  for (const retain of form.retains) claimed.add(normalize(retain.concept));
  return claimed;
}

/**
 * The preserve list set to the CIFAR-10 classes, leaving out every class the form already erases
 * or retains (a concept cannot be both erased and preserved).
 */
export function withCifar10Preserve(form: ConceptForm): ConceptForm {
  const claimed = claimedConcepts(form);
  return { ...form, preserve: CIFAR10_CLASSES.filter((c) => !claimed.has(c)).map((concept) => ({ concept, weight: 1 })) };
}

/**
 * Adds chips typed into a chip editor: commas separate concepts; blanks and concepts already in
 * the list are skipped.
 */
export function addChips(list: readonly ChipValue[], typed: string): ChipValue[] {
  const next = [...list];
  for (const part of typed.split(',')) {
    const concept = part.trim().replace(/\s+/g, ' ');
    if (concept === '' || next.some((chip) => normalize(chip.concept) === normalize(concept))) continue;
    next.push({ concept, weight: 1 });
  }
  return next;
}

/** The ConceptSetInput the form describes: blank targets dropped, text trimmed. */
export function conceptSetInput(form: ConceptForm): ConceptSetInput {
  const chips = (list: readonly ChipValue[]) => list.filter((c) => c.concept.trim() !== '').map((c) => ({ concept: c.concept.trim(), weight: c.weight }));
  return {
    kind: form.kind,
    targets: form.targets
      .filter((t) => t.concept.trim() !== '')
      .map((t) => ({ concept: t.concept.trim(), weight: t.weight, anchor: t.anchor.trim(), corefs: chips(t.corefs) })),
    retains: chips(form.retains),
    preserve: chips(form.preserve),
  };
}

/**
 * The request the "Erase" button sends. Throws InputError (naming the field) for a form the
 * engine would refuse: no concept, contradictions, bad weights, out-of-range settings.
 */
export function eraseRequestFor(form: ConceptForm): EraseRequest {
  const input = conceptSetInput(form);
  if (input.targets.length === 0) throw new InputError('Type a concept to erase in the concept field (for example "cat").');
  checkWeights(form);
  let concepts: ConceptSet;
  try {
    concepts = parseConceptSet(input, 'concepts');
  } catch (error) {
    // The parser names data paths ("targets[0].anchor"); the panel names what the user sees.
    if (error instanceof InputError) throw new InputError(messageInWords(error.message, form));
    throw error;
  }
  // lambda > 0 keeps the system positive definite with fewer constraint vectors than dimensions.
  if (!Number.isFinite(form.lambda) || form.lambda <= 0) throw new InputError(`Lambda must be a number above 0; ${describeEntered(form.lambda)}. Type a value such as 0.5.`);
  checkNumber(form.eraseScale, 'Erase scale', 0, 1);
  checkNumber(form.preserveScale, 'Preserve scale', 0, 1);
  const request: EraseRequest = {
    concepts: toInput(concepts),
    method: form.method,
    tokens: form.tokens,
    sharedRows: form.sharedRows,
    closedForm: { lambda: form.lambda, eraseScale: form.eraseScale, preserveScale: form.preserveScale },
  };
  if (form.method === 'realera') {
    const r = form.realera;
    const entered = (v: number) => describeEntered(v);
    if (!(r.s1 >= -1 && r.s1 <= 1)) throw new InputError(`RealEra S1 must be a cosine between -1 and 1; ${entered(r.s1)}.`);
    if (!(r.s2 >= -1 && r.s2 <= r.s1)) throw new InputError(`RealEra S2 must be between -1 and S1 (${r.s1}); ${entered(r.s2)}.`);
    if (!Number.isInteger(r.m) || r.m < 0) throw new InputError(`RealEra M (neighbors) must be a whole number, 0 or more; ${entered(r.m)}.`);
    if (!Number.isInteger(r.n) || r.n < 0) throw new InputError(`RealEra N (beyond samples) must be a whole number, 0 or more; ${entered(r.n)}.`);
    if (!(r.d1 > 0)) throw new InputError(`RealEra D1 (neighbor radius) must be above 0; ${entered(r.d1)}.`);
    if (!(r.d2 > r.d1)) throw new InputError(`RealEra D2 (beyond radius) must be greater than D1 (${r.d1}); ${entered(r.d2)}.`);
    if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) throw new InputError(`RealEra seed must be a whole number from 0 to 4294967295; ${entered(r.seed)}.`);
    request.realera = { options: { s1: r.s1, s2: r.s2, m: r.m, n: r.n, d1: r.d1, d2: r.d2 }, seed: r.seed };
  }
  return request;
}

/**
 * The request the form makes, as a string to compare: equal strings erase the same way. A form
 * the engine would refuse has its own signature, never equal to an edit's.
 */
export function formSignature(form: ConceptForm): string {
  try {
    return JSON.stringify(eraseRequestFor(form));
  } catch (error) {
    return `invalid: ${(error as Error).message}`;
  }
}

/** The form that reproduces a recipe's settings (after undo/redo or opening a recipe file). */
export function conceptFormFromRecipe(recipe: ErasureRecipe, previous: ConceptForm): ConceptForm {
  const weighted = (list: readonly { concept: string; weight: number }[]): ChipValue[] => list.map((c) => ({ concept: c.concept, weight: c.weight }));
  const r = recipe.realera;
  return {
    kind: recipe.concepts.kind,
    targets: recipe.concepts.targets.map((t) => ({ concept: t.concept, weight: t.weight, anchor: t.anchor, corefs: weighted(t.corefs) })),
    retains: weighted(recipe.concepts.retains),
    preserve: weighted(recipe.concepts.preserve),
    method: recipe.method,
    tokens: recipe.prompts.tokens,
    sharedRows: recipe.prompts.sharedRows ?? 'free',
    lambda: recipe.closedForm.lambda,
    eraseScale: recipe.closedForm.eraseScale,
    preserveScale: recipe.closedForm.preserveScale,
    realera: r ? { s1: r.options.s1, s2: r.options.s2, m: r.options.m, n: r.options.n, d1: r.options.d1, d2: r.options.d2, seed: r.seed } : previous.realera,
  };
}

/** A short name for the edit, for file names and labels: "cat", "cat+dog". */
export function editLabel(concepts: ConceptSetInput): string {
  const names = concepts.targets.map((t) => (typeof t === 'string' ? t : t.concept));
  return names.join('+') || 'edit';
}

function toInput(set: ConceptSet): ConceptSetInput {
  return {
    kind: set.kind,
    targets: set.targets.map((t) => ({ concept: t.concept, weight: t.weight, anchor: t.anchor, corefs: t.corefs.map((c) => ({ concept: c.concept, weight: c.weight })) })),
    retains: set.retains.map((c) => ({ concept: c.concept, weight: c.weight })),
    preserve: set.preserve.map((c) => ({ concept: c.concept, weight: c.weight })),
  };
}

function checkNumber(value: number, label: string, min: number, example: number): void {
  if (!Number.isFinite(value) || value < min) throw new InputError(`${label} must be a number, ${min} or more; ${describeEntered(value)}. Type a value such as ${example}.`);
}

/** Every weight box of the form, named by the concept it belongs to. */
function checkWeights(form: ConceptForm): void {
  const check = (weight: number, owner: string) => {
    if (!Number.isFinite(weight) || weight <= 0) throw new InputError(`The weight of ${owner} must be a number above 0; ${describeEntered(weight)}. Type 1 for full strength.`);
  };
  for (const target of form.targets) {
    if (target.concept.trim() === '') continue;
    check(target.weight, `"${target.concept.trim()}"`);
    for (const coref of target.corefs) check(coref.weight, `the coref "${coref.concept}"`);
  }
  for (const chip of form.retains) check(chip.weight, `the retained concept "${chip.concept}"`);
  for (const chip of form.preserve) check(chip.weight, `the preserved concept "${chip.concept}"`);
}

function normalize(concept: string): string {
  return concept.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Suggested concepts the proposer put into the form (so that they can be taken out again). */
export interface AppliedSuggestions {
  corefs: ChipValue[];
  retains: ChipValue[];
}

/**
 * The form with the proposer's chosen suggestions in it: `previous` (what this list put in
 * before) comes out of target `targetIndex`'s corefs and the retains, then `next` goes in, each
 * with its weight. A concept the form already erases, retains or preserves is left as the user
 * has it. Returns what was actually put in, to pass as `previous` next time.
 */
export function withSuggestions(form: ConceptForm, targetIndex: number, previous: AppliedSuggestions, next: AppliedSuggestions): { form: ConceptForm; applied: AppliedSuggestions } {
  const target = form.targets[targetIndex];
  if (!target) return { form, applied: { corefs: [], retains: [] } };
  const drop = (list: ChipValue[], remove: ChipValue[]) => {
    const keys = new Set(remove.map((c) => normalize(c.concept)));
    return list.filter((c) => !keys.has(normalize(c.concept)));
  };
  const corefs = drop(target.corefs, previous.corefs);
  const retains = drop(form.retains, previous.retains);
  const base: ConceptForm = { ...form, targets: form.targets.map((t, i) => (i === targetIndex ? { ...t, corefs } : t)), retains };
  const claimed = claimedConcepts(base);
  for (const p of base.preserve) claimed.add(normalize(p.concept));
  const applied: AppliedSuggestions = { corefs: [], retains: [] };
  const take = (list: ChipValue[], into: ChipValue[], record: ChipValue[]) => {
    for (const item of list) {
      const concept = item.concept.trim().replace(/\s+/g, ' ');
      if (concept === '' || claimed.has(normalize(concept))) continue;
      claimed.add(normalize(concept));
      into.push({ concept, weight: item.weight });
      record.push({ concept, weight: item.weight });
    }
  };
  const nextCorefs = [...corefs];
  const nextRetains = [...retains];
  take(next.corefs, nextCorefs, applied.corefs);
  take(next.retains, nextRetains, applied.retains);
  return {
    form: { ...base, targets: base.targets.map((t, i) => (i === targetIndex ? { ...t, corefs: nextCorefs } : t)), retains: nextRetains },
    applied,
  };
}
