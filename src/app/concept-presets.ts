/**
 * One-click concepts to erase, from the concept world's vocabulary (public/concept-world/
 * world.json): the object, its synonyms as corefs, and the other objects as preserve. Pure; the
 * file is read by the panel and checked here, so a missing or odd file just means no presets.
 */
import { addChips, emptyTarget, type ConceptForm } from './concept-form.ts';

export interface ConceptPreset {
  concept: string;
  synonyms: string[];
  /** The other objects of the world, held in place. */
  others: string[];
}

export function presetsFromWorld(world: unknown): ConceptPreset[] {
  if (typeof world !== 'object' || world === null) return [];
  const objects = (world as { objects?: unknown }).objects;
  if (!Array.isArray(objects)) return [];
  const parsed = objects.flatMap((o): { name: string; synonyms: string[] }[] => {
    if (typeof o !== 'object' || o === null) return [];
    const { name, synonyms } = o as { name?: unknown; synonyms?: unknown };
    if (typeof name !== 'string' || name.trim() === '') return [];
    return [{ name: name.trim(), synonyms: Array.isArray(synonyms) ? synonyms.filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((s) => s.trim()) : [] }];
  });
  return parsed.map((o) => ({ concept: o.name, synonyms: o.synonyms, others: parsed.filter((p) => p.name !== o.name).map((p) => p.name) }));
}

/** The form with the preset's concept (keeping method and settings), corefs and preserve list. */
export function withPreset(form: ConceptForm, preset: ConceptPreset): ConceptForm {
  return {
    ...form,
    kind: 'object',
    targets: [{ ...emptyTarget(), concept: preset.concept, corefs: addChips([], preset.synonyms.join(',')) }],
    retains: [],
    preserve: addChips([], preset.others.join(',')),
  };
}
