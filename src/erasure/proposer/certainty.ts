/**
 * How sure a proposer is that a concept belongs with the target (a coref) or next to it (a
 * retain). CRCE's five labels; each becomes the concept's weight in the closed form and the CRCE
 * objective when the user keeps it.
 */
export const CERTAINTIES = ['Very High', 'High', 'Normal', 'Low', 'Very Low'] as const;
export type Certainty = (typeof CERTAINTIES)[number];

export const CERTAINTY_WEIGHT: Readonly<Record<Certainty, number>> = {
  'Very High': 1.0,
  High: 0.8,
  Normal: 0.6,
  Low: 0.4,
  'Very Low': 0.2,
};

/** A label as an LLM might write it ("very high", "Very_High", "VERY-HIGH"), or null. */
export function parseCertainty(value: unknown): Certainty | null {
  if (typeof value !== 'string') return null;
  const key = value.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
  return CERTAINTIES.find((label) => label.toLowerCase() === key) ?? null;
}

/** 0 for Very High ... 4 for Very Low: sorts the surest first. */
export function certaintyRank(certainty: Certainty): number {
  return CERTAINTIES.indexOf(certainty);
}
