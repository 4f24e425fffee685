/**
 * The training panel's recipe: the form's fields go into the recipe's fineTune section (z_t steps
 * included), a bad field is named with what was expected, and a saved run's recipe gives back the
 * form it was started from and the pack it belongs to (what the panel's resume offer relies on).
 */
import { describe, expect, test } from 'vitest';
import { defineConceptSet } from '../../src/erasure/concept-sets.ts';
import { PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';
import { parseRecipe, serializeRecipe } from '../../src/erasure/recipe.ts';
import { DEFAULT_TRAINING_FORM, trainingFormOf, trainingPackOf, trainingRecipeFor } from '../../src/app/training-run.ts';

const PACK = 'c'.repeat(64);
const editRecipe = serializeRecipe({
  format: 'lethe-erasure-recipe',
  version: 1,
  lethe: '0.1.0',
  pack: { sha256: PACK, family: 'tiny-sd15' },
  concepts: defineConceptSet({ kind: 'object', targets: [{ concept: 'cat' }], retains: [{ concept: 'dog', weight: 0.8 }] }),
  method: 'uce',
  prompts: { templates: [...PROMPT_TEMPLATES.object], tokens: 'subject' },
  realera: null,
  closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 0.1, solver: 'woodbury' },
});

describe('training recipe from the panel form', () => {
  test('every field lands in fineTune; the latent size is the pack\'s; the form comes back from the recipe', () => {
    const form = { objective: 'crce' as const, steps: '12', learningRate: '0.0003', rank: '8', latentSteps: '5', every: '4' };
    const made = trainingRecipeFor(editRecipe, form, 8);
    if (!('recipe' in made)) throw new Error(made.error);
    expect(made.every).toBe(4);
    const fineTune = parseRecipe(made.recipe, 'made').fineTune!;
    expect(fineTune).toMatchObject({ objective: 'crce', steps: 12, learningRate: 3e-4, rank: 8, alpha: 8, latentSteps: 5, latentSize: 8, base: 'original' });
    expect(trainingFormOf(made.recipe, '4')).toEqual(form);
    expect(trainingPackOf(made.recipe)).toBe(PACK);
    // RealEra trains on top of its closed-form edit.
    const realera = trainingRecipeFor(editRecipe, { ...form, objective: 'realera' }, 64);
    if (!('recipe' in realera)) throw new Error(realera.error);
    expect(parseRecipe(realera.recipe, 'made').fineTune).toMatchObject({ base: 'closed-form', latentSize: 64 });
  });

  test.each([
    [{ steps: '0' }, 'steps: expected a whole number in [1, 100000], got "0"'],
    [{ steps: '' }, 'steps: expected a whole number in [1, 100000], got ""'],
    [{ learningRate: 'fast' }, 'learning rate: expected a number in (0, 1], got "fast"'],
    [{ rank: '2.5' }, 'rank: expected a whole number in [1, 1024], got "2.5"'],
    [{ latentSteps: '0' }, 'z_t steps: expected a whole number in [1, 1000], got "0"'],
    [{ every: 'x' }, 'every: expected a whole number in [1, 100000], got "x"'],
  ])('%o is refused by name', (patch, message) => {
    expect(trainingRecipeFor(editRecipe, { ...DEFAULT_TRAINING_FORM, ...patch }, 8)).toEqual({ error: message });
  });

  test('a recipe without fineTune or that does not parse gives no form and no pack', () => {
    expect(trainingFormOf(editRecipe, '10')).toBeNull();
    expect(trainingFormOf('{', '10')).toBeNull();
    expect(trainingPackOf('not json')).toBeNull();
  });
});
