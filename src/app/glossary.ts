/** One line per erasure term, shown next to the term wherever it appears. */
export const GLOSSARY = {
  concept: 'What to remove from the model, as it appears in prompts ("cat", "Van Gogh").',
  anchor: 'What the erased concept turns into: "" (the empty prompt) makes it draw as if the word were absent.',
  coref: 'Other words for the same concept (synonyms, spellings); erased together with it.',
  retain: 'Related concepts that must survive ("tiger" when erasing "cat"): held in place by the edit.',
  preserve: 'Unrelated concepts the edit must not change: held in place, like retain, usually many of them.',
  method: 'UCE solves one least-squares edit; RealEra first samples nearby embeddings to erase and far ones to keep.',
  tokens: 'Which token positions of each prompt are constrained: the concept word, the word and those after it, or all 77.',
  sharedRows: 'Also hold in place the token rows no concept is written into: the empty prompt (the base of every image) and the template words ("a photo of").',
  lambda: 'How strongly the edit is held close to the original weights: larger changes the model less.',
  eraseScale: 'Weight of the erase targets in the least-squares problem: larger erases harder.',
  preserveScale: 'Weight of the retained and preserved concepts: larger keeps them closer to the original.',
  s1: 'RealEra: nearby samples must have a cosine to the concept of at most S1 (upper edge of the window).',
  s2: 'RealEra: and at least S2 (lower edge): the window of "close but not the same".',
  m: 'RealEra: how many nearby samples are erased along with the concept.',
  n: 'RealEra: how many far-away samples are held in place (beyond the concept).',
  d1: 'RealEra: how far (in embedding units) nearby samples may lie from the concept.',
  d2: 'RealEra: radius of the far-away samples; larger than D1.',
  seed: 'RealEra draws its samples from this seed: the same seed gives the same edit.',
  rank: 'How many directions the edit changes; an exact LoRA export needs this rank.',
  editId: 'A fingerprint (sha256) of the recipe: the same id is the same edit, bit for bit.',
  relativeChange: "How much the edit moves the model's noise prediction for a prompt (0: not at all).",
  strength: "Multiplies the LoRA's change: 0 is the original model, 1 the file as saved.",
} as const;

export type GlossaryTerm = keyof typeof GLOSSARY;
