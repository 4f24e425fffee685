/**
 * A concept set: the typed description of one erasure. Targets are erased (mapped to their
 * anchor), each with coreferential concepts erased alongside it and mapped to the same anchor
 * (CRCE corefs); retained concepts (CRCE retains) and the preserve list keep their original
 * mapping. Every item carries a weight, which becomes its closed-form scale.
 *
 * Recipes are JSON, so `parseConceptSet` trusts nothing: unknown keys, empty concepts,
 * non-positive weights and contradictions (a concept both erased and kept) are InputErrors
 * naming the field.
 */
import { InputError } from '../util/errors.ts';

export type ConceptKind = 'object' | 'style' | 'person';
export const CONCEPT_KINDS: readonly ConceptKind[] = ['object', 'style', 'person'];

export interface WeightedConcept {
  readonly concept: string;
  readonly weight: number;
}

export interface ErasureTarget extends WeightedConcept {
  /** What the target (and its corefs) are mapped to; "" (the empty prompt) by default. */
  readonly anchor: string;
  readonly corefs: readonly WeightedConcept[];
}

export interface ConceptSet {
  readonly kind: ConceptKind;
  readonly targets: readonly ErasureTarget[];
  readonly retains: readonly WeightedConcept[];
  readonly preserve: readonly WeightedConcept[];
}

/** A concept as written by hand: a bare string has weight 1. */
export type ConceptInput = string | { readonly concept: string; readonly weight?: number };
export type TargetInput =
  | string
  | { readonly concept: string; readonly weight?: number; readonly anchor?: string; readonly corefs?: readonly ConceptInput[] };

export interface ConceptSetInput {
  readonly kind?: ConceptKind;
  readonly targets: readonly TargetInput[];
  readonly retains?: readonly ConceptInput[];
  readonly preserve?: readonly ConceptInput[];
}

/** One erase mapping: `concept` -> `anchor`, with weight s_e. */
export interface ErasurePair {
  readonly concept: string;
  readonly anchor: string;
  readonly weight: number;
  readonly role: 'target' | 'coref';
  /** The target this pair belongs to (itself for a target). */
  readonly target: string;
}

/** One concept kept at its original mapping, with weight s_p. */
export interface PreservedConcept {
  readonly concept: string;
  readonly weight: number;
  readonly role: 'retain' | 'preserve';
}

export const DEFAULT_ANCHOR = '';
export const DEFAULT_WEIGHT = 1;

/** Fills defaults and validates a hand-written concept set. */
export function defineConceptSet(input: ConceptSetInput): ConceptSet {
  return parseConceptSet(input);
}

/** Validates an untrusted value (a recipe field); `source` prefixes every error message. */
export function parseConceptSet(value: unknown, source = 'concept set'): ConceptSet {
  const record = expectRecord(value, source, '', ['kind', 'targets', 'retains', 'preserve']);
  const kind = record.kind ?? 'object';
  if (typeof kind !== 'string' || !(CONCEPT_KINDS as readonly string[]).includes(kind))
    throw fieldError(source, 'kind', `expected one of ${CONCEPT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  if (!Array.isArray(record.targets) || record.targets.length === 0)
    throw fieldError(source, 'targets', 'expected a non-empty array of concepts to erase');
  const targets = record.targets.map((item, i) => parseTarget(item, source, `targets[${i}]`));
  const retains = parseList(record.retains, source, 'retains');
  const preserve = parseList(record.preserve, source, 'preserve');

  // Each concept may appear once: erased twice is a duplicate, erased and kept is a contradiction.
  const seen = new Map<string, string>();
  const claim = (concept: string, field: string): void => {
    const key = normalize(concept);
    const earlier = seen.get(key);
    if (earlier !== undefined)
      throw fieldError(source, field, `"${concept}" already appears at ${earlier}; a concept is either erased once or kept, not both`);
    seen.set(key, field);
  };
  targets.forEach((target, i) => {
    claim(target.concept, `targets[${i}].concept`);
    target.corefs.forEach((coref, j) => claim(coref.concept, `targets[${i}].corefs[${j}].concept`));
  });
  retains.forEach((item, i) => claim(item.concept, `retains[${i}].concept`));
  preserve.forEach((item, i) => claim(item.concept, `preserve[${i}].concept`));
  targets.forEach((target, i) => {
    const owner = seen.get(normalize(target.anchor));
    if (target.anchor !== '' && owner !== undefined && owner.startsWith('targets'))
      throw fieldError(source, `targets[${i}].anchor`, `"${target.anchor}" is itself erased (${owner}); pick an anchor that is kept`);
  });
  return { kind: kind as ConceptKind, targets, retains, preserve };
}

/** Every erase mapping: each target, then its corefs, all to the target's anchor. */
export function erasurePairs(set: ConceptSet): ErasurePair[] {
  const pairs: ErasurePair[] = [];
  for (const target of set.targets) {
    pairs.push({ concept: target.concept, anchor: target.anchor, weight: target.weight, role: 'target', target: target.concept });
    for (const coref of target.corefs)
      pairs.push({ concept: coref.concept, anchor: target.anchor, weight: coref.weight, role: 'coref', target: target.concept });
  }
  return pairs;
}

/** Every concept kept at its original mapping: retains, then the preserve list. */
export function preservedConcepts(set: ConceptSet): PreservedConcept[] {
  return [
    ...set.retains.map((item): PreservedConcept => ({ ...item, role: 'retain' })),
    ...set.preserve.map((item): PreservedConcept => ({ ...item, role: 'preserve' })),
  ];
}

function parseTarget(value: unknown, source: string, field: string): ErasureTarget {
  if (typeof value === 'string') return { concept: parseConceptName(value, source, field), weight: DEFAULT_WEIGHT, anchor: DEFAULT_ANCHOR, corefs: [] };
  const record = expectRecord(value, source, field, ['concept', 'weight', 'anchor', 'corefs']);
  const concept = parseConceptName(record.concept, source, `${field}.concept`);
  const weight = parseWeight(record.weight, source, `${field}.weight`);
  const anchor = record.anchor ?? DEFAULT_ANCHOR;
  if (typeof anchor !== 'string') throw fieldError(source, `${field}.anchor`, `expected a string ("" for the empty prompt), got ${describe(anchor)}`);
  if (normalize(anchor) === normalize(concept) && anchor !== '')
    throw fieldError(source, `${field}.anchor`, `the anchor "${anchor}" is the target itself`);
  const corefs = parseList(record.corefs, source, `${field}.corefs`);
  return { concept, weight, anchor: anchor.trim(), corefs };
}

function parseList(value: unknown, source: string, field: string): WeightedConcept[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw fieldError(source, field, `expected an array of concepts, got ${describe(value)}`);
  return value.map((item, i) => parseWeighted(item, source, `${field}[${i}]`));
}

function parseWeighted(value: unknown, source: string, field: string): WeightedConcept {
  if (typeof value === 'string') return { concept: parseConceptName(value, source, field), weight: DEFAULT_WEIGHT };
  const record = expectRecord(value, source, field, ['concept', 'weight']);
  return { concept: parseConceptName(record.concept, source, `${field}.concept`), weight: parseWeight(record.weight, source, `${field}.weight`) };
}

function parseConceptName(value: unknown, source: string, field: string): string {
  if (typeof value !== 'string') throw fieldError(source, field, `expected a concept string, got ${describe(value)}`);
  const concept = value.trim();
  if (concept === '') throw fieldError(source, field, 'expected a non-empty concept (only an anchor may be the empty prompt)');
  if (concept.includes('{}')) throw fieldError(source, field, `"${concept}" contains "{}", which is reserved for prompt templates`);
  return concept;
}

function parseWeight(value: unknown, source: string, field: string): number {
  if (value === undefined) return DEFAULT_WEIGHT;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw fieldError(source, field, `expected a finite number > 0, got ${describe(value)}`);
  return value;
}

function expectRecord(value: unknown, source: string, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fieldError(source, field || '(root)', `expected an object with ${keys.join(', ')}, got ${describe(value)}`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (!keys.includes(key)) throw fieldError(source, field ? `${field}.${key}` : key, `unknown field; expected one of ${keys.join(', ')}`);
  return record;
}

function normalize(concept: string): string {
  return concept.trim().toLowerCase().replace(/\s+/g, ' ');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : typeof value;
}

function fieldError(source: string, field: string, detail: string): InputError {
  return new InputError(`${source}: ${field}: ${detail}`);
}
