/**
 * Proposed corefs as the loaded model sees them (Engine.checkCandidates): a chip the model's text
 * encoder places nearer a kept concept than the concept itself starts unticked, with the reason;
 * the user can tick it anyway. Without a loaded model the chips stay as proposed.
 */
import type { EncoderCheck } from '../erasure/proposer/encoder-check.ts';

export interface CheckedChip {
  concept: string;
  chosen: boolean;
  /** Why the model disagrees (null: confirmed or not checked). */
  modelNote: string | null;
}

/** Chips after the check: unconfirmed ones unticked with a note; others as they were. */
export function applyEncoderCheck<T extends CheckedChip>(chips: readonly T[], check: EncoderCheck): T[] {
  const byConcept = new Map(check.candidates.map((c) => [c.concept.trim(), c]));
  return chips.map((chip) => {
    const verdict = byConcept.get(chip.concept.trim());
    if (!verdict || verdict.confirmed || !verdict.nearestKept) return { ...chip, modelNote: null };
    return {
      ...chip,
      chosen: false,
      modelNote: `this model's text encoder puts "${chip.concept}" nearer "${verdict.nearestKept.concept}" (${verdict.nearestKept.similarity.toFixed(2)}) than "${check.concept}" (${verdict.similarity.toFixed(2)}): erasing it would move a kept concept`,
    };
  });
}

/** The notes line for a checked list. */
export function encoderCheckNote(check: EncoderCheck, modelName: string): string {
  const doubted = check.candidates.filter((c) => !c.confirmed).length;
  return doubted === 0
    ? `${modelName}'s text encoder puts every suggested coref nearer "${check.concept}" than any kept concept`
    : `${doubted} of ${check.candidates.length} suggested corefs unticked: ${modelName}'s text encoder puts them nearer a kept concept than "${check.concept}" (tick one to erase it anyway)`;
}
