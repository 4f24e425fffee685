import { describe, expect, test } from 'vitest';
import { emptyTarget, eraseRequestFor, initialConceptForm, methodSwitchChanges, withMethod, type ConceptForm } from '../../src/app/concept-form.ts';
import { describeEngineError } from '../../src/app/engine-error-advice.ts';
import { editInWords } from '../../src/app/edit-words.ts';
import { fieldInWords, messageInWords } from '../../src/app/field-words.ts';
import { loadLine, type PackLoadView } from '../../src/app/model-load.ts';
import type { EditSummary } from '../../src/engine/api.ts';
import type { ErasureRecipe } from '../../src/erasure/recipe.ts';
import { InputError } from '../../src/util/errors.ts';

// The bad messages a new user met, each with the text that replaces it.
const cat = (patch: Partial<ConceptForm> = {}): ConceptForm => ({ ...initialConceptForm(), targets: [{ ...emptyTarget(), concept: 'cat', corefs: [{ concept: 'kitten', weight: 1 }] }], ...patch });

function thrown(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

describe('errors name the field in words, once, and say what to do', () => {
  test('"targets[0].weight" becomes the weight of "cat"; "got NaN" becomes "it is empty"', () => {
    const message = thrown(() => eraseRequestFor(cat({ targets: [{ ...emptyTarget(), concept: 'cat', weight: Number.NaN }] })));
    expect(message).toBe('The weight of "cat" must be a number above 0; it is empty. Type 1 for full strength.');
    expect(message).not.toMatch(/targets\[|NaN/);
    const coref = thrown(() => eraseRequestFor(cat({ targets: [{ ...emptyTarget(), concept: 'cat', corefs: [{ concept: 'kitten', weight: 0 }] }] })));
    expect(coref).toBe('The weight of the coref "kitten" must be a number above 0; it is 0. Type 1 for full strength.');
  });

  test('empty lambda and scales say "it is empty" and give an example', () => {
    expect(thrown(() => eraseRequestFor(cat({ lambda: Number.NaN })))).toBe('Lambda must be a number above 0; it is empty. Type a value such as 0.5.');
    expect(thrown(() => eraseRequestFor(cat({ preserveScale: Number.NaN })))).toBe('Preserve scale must be a number, 0 or more; it is empty. Type a value such as 1.');
    const realera = withMethod(cat(), 'realera');
    expect(thrown(() => eraseRequestFor({ ...realera, realera: { ...realera.realera, m: Number.NaN } }))).toBe('RealEra M (neighbors) must be a whole number, 0 or more; it is empty.');
  });

  test('a concept both erased and preserved is named by its text, not its index', () => {
    const message = thrown(() => eraseRequestFor(cat({ preserve: [{ concept: 'Cat', weight: 1 }] })));
    expect(message).toMatch(/^The preserved concept "Cat": "Cat" already appears at /);
    expect(message).not.toMatch(/^concepts: preserve\[0\]/);
    expect(thrown(() => eraseRequestFor(cat({ targets: [{ ...emptyTarget(), concept: 'cat', anchor: 'cat' }] })))).toMatch(/^The anchor of "cat": /);
  });

  test('an input error is said once: no "Correct the value named above", no repeated detail', () => {
    const view = describeEngineError(new InputError('recipe: targets[0].weight: expected a finite number > 0, got NaN'), 'recipe');
    expect(view.title).toBe('The recipe could not be applied.');
    expect(view.advice).toBe('The weight of target 1: expected a number above 0, but it is empty');
    expect(view.detail).toBe('');
    expect(JSON.stringify(view)).not.toMatch(/named above/);
    const form = describeEngineError(new InputError('Type a concept to erase in the concept field (for example "cat").'), 'erase');
    expect(form.advice).toBe('Type a concept to erase in the concept field (for example "cat").');
    expect(form.title).not.toContain(form.advice);
  });

  test('field paths in words, with concept texts from the form', () => {
    const form = cat({ retains: [{ concept: 'tiger', weight: 1 }] });
    expect(fieldInWords('targets[0].corefs[0].weight', form)).toBe('the weight of the coref "kitten"');
    expect(fieldInWords('retains[0].concept', form)).toBe('the retained concept "tiger"');
    expect(fieldInWords('targets[1].weight')).toBe('the weight of target 2');
    expect(messageInWords('not a field message')).toBe('not a field message');
  });
});

describe('switching the method says what else it changed', () => {
  test('UCE -> RealEra: preserve scale 1 -> 0.1 is reported; back again too; same method: nothing', () => {
    const uce = cat();
    const realera = withMethod(uce, 'realera');
    expect(methodSwitchChanges(uce, realera)).toEqual(['preserve scale 1 → 0.1']);
    expect(methodSwitchChanges(realera, withMethod(realera, 'uce'))).toEqual(['preserve scale 0.1 → 1']);
    expect(methodSwitchChanges(uce, withMethod(uce, 'uce'))).toEqual([]);
  });
});

describe('pack load progress never claims 100% for a failed or unknown size', () => {
  const view = (patch: Partial<PackLoadView>): PackLoadView => ({ phase: 'manifest', item: null, files: [], overallDone: 0, overallTotal: 0, ...patch });

  test('a hub load that failed before the manifest: "Stopped before the pack size was known", empty bar, no "0 B / 0 B (100%)"', () => {
    const line = loadLine(view({}), 'failed', 'hub');
    expect(line).toEqual({ text: 'Stopped before the pack size was known', numbers: '', fraction: 0 });
    expect(JSON.stringify(line)).not.toMatch(/100%|0 B \/ 0 B/);
  });

  test('a failed load with a known size stops short of a full bar; a running one with unknown size says so', () => {
    const failed = loadLine(view({ phase: 'download', overallDone: 100, overallTotal: 100 }), 'failed', 'hub');
    expect(failed.fraction).toBeLessThan(1);
    expect(failed.text).toBe('Stopped');
    expect(loadLine(view({}), 'loading', 'hub')).toEqual({ text: 'Reading manifest.json…', numbers: 'size not known yet', fraction: null });
  });

  test('the demo pack is stored, not downloaded; done is the only 100%', () => {
    const storing = loadLine(view({ phase: 'download', overallDone: 4.5 * 2 ** 20, overallTotal: 5.5 * 2 ** 20 }), 'loading', 'demo');
    expect(storing.text).toBe('Storing the demo files in the browser cache');
    expect(storing.text).not.toMatch(/Download/);
    const compiling = loadLine(view({ phase: 'compile', item: 'unet', overallDone: 100, overallTotal: 100 }), 'loading', 'demo');
    expect(compiling.numbers).toBe('100 B of 100 B (99%)');
    expect(loadLine(view({ phase: 'ready', overallDone: 100, overallTotal: 100 }), 'done', 'demo')).toEqual({ text: 'Made in this tab and cached', numbers: '100 B of 100 B', fraction: 1 });
  });
});

describe('an edit in plain words first', () => {
  // Only the fields the words read; a full recipe comes from the engine.
  const recipe = {
    concepts: {
      kind: 'object',
      targets: [{ concept: 'cat', weight: 1, anchor: '', corefs: [{ concept: 'kitten', weight: 1 }, { concept: 'feline', weight: 1 }] }],
      retains: [{ concept: 'tiger', weight: 1 }],
      preserve: [{ concept: 'dog', weight: 1 }, { concept: 'ship', weight: 1 }],
    },
    method: 'uce',
    closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 1 },
  } as unknown as ErasureRecipe;
  const summary: EditSummary = { id: 'b'.repeat(64), recipe: '', eraseVectors: 6, preserveVectors: 9, rank: 6, neighbors: 0, beyond: 0, solver: 'woodbury', ms: { encode: 1, sample: 0, solve: 2, total: 1500 } };

  test('headline counts what was erased and what was held; detail carries the math', () => {
    const words = editInWords(recipe, summary);
    expect(words.headline).toBe('"cat" and 2 related concepts mapped to the empty prompt; 3 other concepts held in place.');
    expect(words.detail).toBe('UCE closed form: rank-6 change of the cross-attention K/V weights (W′ = W·M) from 6 erase and 9 preserve vectors; lambda 0.5, erase scale 1, preserve scale 1; woodbury solver; 1.5 s.');
  });

  test('with shared rows kept (the default) the headline says so, with or without other concepts held', () => {
    const shared = { ...recipe, prompts: { templates: ['{}'], tokens: 'subject', sharedRows: 'keep' } } as ErasureRecipe;
    expect(editInWords(shared, summary).headline).toBe(
      '"cat" and 2 related concepts mapped to the empty prompt; 3 other concepts and the shared rows (empty prompt, template words) held in place.',
    );
    const alone = { ...shared, concepts: { ...shared.concepts, retains: [], preserve: [] } } as ErasureRecipe;
    expect(editInWords(alone, summary).headline).toBe('"cat" and 2 related concepts mapped to the empty prompt; the shared rows (empty prompt, template words) held in place.');
  });
});
