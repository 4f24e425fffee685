import { describe, expect, test } from 'vitest';
import { eraseRequestFor, initialConceptForm, withSuggestions, type ConceptForm } from '../../../src/app/concept-form.ts';
import { solveEditOperator } from '../../../src/erasure/closed-form.ts';
import { buildErasureProblem, type ErasureContext } from '../../../src/erasure/problem-builder.ts';
import { CERTAINTY_WEIGHT } from '../../../src/erasure/proposer/certainty.ts';
import { parseRecipe } from '../../../src/erasure/recipe.ts';
import { fakeTextEncoder } from '../fake-text-encoder.ts';
import { invert, matrix, multiply, sumOfOuterProducts } from '../reference-linalg.ts';

function catForm(): ConceptForm {
  const form = initialConceptForm();
  return { ...form, targets: [{ ...form.targets[0], concept: 'cat' }] };
}

const NONE = { corefs: [], retains: [] };
const w = CERTAINTY_WEIGHT;

describe('suggestions in the concept form', () => {
  test('chosen suggestions go in with their weights; the previous ones come out', () => {
    const first = withSuggestions(catForm(), 0, NONE, {
      corefs: [{ concept: 'kitten', weight: w.High }, { concept: 'tabby', weight: w.Normal }],
      retains: [{ concept: 'dog', weight: w.Low }],
    });
    expect(first.form.targets[0].corefs).toEqual([{ concept: 'kitten', weight: 0.8 }, { concept: 'tabby', weight: 0.6 }]);
    expect(first.form.retains).toEqual([{ concept: 'dog', weight: 0.4 }]);
    // Re-rating tabby and unticking dog replaces what the list put in, nothing else.
    const withManual = { ...first.form, retains: [...first.form.retains, { concept: 'lion', weight: 1 }] };
    const second = withSuggestions(withManual, 0, first.applied, { corefs: [{ concept: 'kitten', weight: w.High }, { concept: 'tabby', weight: w['Very Low'] }], retains: [] });
    expect(second.form.targets[0].corefs).toEqual([{ concept: 'kitten', weight: 0.8 }, { concept: 'tabby', weight: 0.2 }]);
    expect(second.form.retains).toEqual([{ concept: 'lion', weight: 1 }]);
    expect(withSuggestions(second.form, 0, second.applied, NONE).form.targets[0].corefs).toEqual([]);
  });

  test('a suggestion the form already erases, retains or preserves is left as the user has it', () => {
    const form: ConceptForm = { ...catForm(), retains: [{ concept: 'kitten', weight: 1 }], preserve: [{ concept: 'dog', weight: 1 }] };
    const result = withSuggestions(form, 0, NONE, { corefs: [{ concept: 'Kitten', weight: 0.8 }, { concept: 'cat', weight: 1 }], retains: [{ concept: 'dog', weight: 0.4 }] });
    expect(result.form.targets[0].corefs).toEqual([]);
    expect(result.form.retains).toEqual([{ concept: 'kitten', weight: 1 }]);
    expect(result.form.preserve).toEqual([{ concept: 'dog', weight: 1 }]);
    expect(result.applied).toEqual(NONE);
    expect(() => eraseRequestFor(result.form)).not.toThrow();
  });

  test('the weights reach the recipe and the closed form: M matches a float64 solve of the weighted objective', async () => {
    const WIDTH = 12;
    const encoder = fakeTextEncoder(WIDTH, 11);
    const context: ErasureContext = { width: WIDTH, tokens: 77, packSha256: 'ab'.repeat(32), family: 'tiny-sd15' };
    const { form } = withSuggestions(catForm(), 0, NONE, {
      corefs: [{ concept: 'kitten', weight: w['Very High'] }, { concept: 'tabby', weight: w.Normal }, { concept: 'house cat', weight: w['Very Low'] }],
      retains: [{ concept: 'dog', weight: w.Low }, { concept: 'tiger', weight: w.High }],
    });
    const request = { ...eraseRequestFor({ ...form, lambda: 0.5, eraseScale: 1.5, preserveScale: 0.75 }), templates: ['a photo of {}'], tokens: 'last' as const };
    const built = await buildErasureProblem(request, encoder, context);
    const recipe = parseRecipe(JSON.stringify(built.recipe), 'recipe');
    expect(recipe.concepts.targets[0].corefs).toEqual([{ concept: 'kitten', weight: 1 }, { concept: 'tabby', weight: 0.6 }, { concept: 'house cat', weight: 0.2 }]);
    expect(recipe.concepts.retains).toEqual([{ concept: 'dog', weight: 0.4 }, { concept: 'tiger', weight: 0.8 }]);

    // Independent reference: the last subject token of each prompt, read from the encoder's own
    // output, with s_e = 1.5 x weight and s_p = 0.75 x weight, solved as M = B A^-1 in float64.
    const lastTokenRow = (concept: string) => {
      const prompt = `a photo of ${concept}`;
      const tokens = encoder.tokenize(prompt);
      const index = tokens.eosIndex - 1; // the subject ends the prompt: its last token is just before EOS
      return Float64Array.from(encoder.embed(prompt).subarray(index * WIDTH, (index + 1) * WIDTH));
    };
    const erased = [['cat', 1], ['kitten', 1], ['tabby', 0.6], ['house cat', 0.2]] as const;
    const kept = [['dog', 0.4], ['tiger', 0.8]] as const;
    expect(built.problem.erase.map((c) => c.scale)).toEqual(erased.map(([, weight]) => 1.5 * weight));
    const eraseTerms = erased.map(([concept, weight]) => ({ c: lastTokenRow(concept), s: 1.5 * weight }));
    const keepTerms = kept.map(([concept, weight]) => ({ c: lastTokenRow(concept), s: 0.75 * weight }));
    const target = built.problem.erase[0].target;
    // The anchor "" maps every erased concept to the same target vector: the reference reads it once.
    expect(built.problem.erase.every((c) => Array.from(c.target).every((v, i) => v === target[i]))).toBe(true);
    // The shared rows (kept by default) at s_p = 0.75: the template's rows before the slot
    // (BOS, "a photo of") and the empty prompt's rows after BOS (BOS is the same row in both).
    const row = (text: string, index: number) => Float64Array.from(encoder.embed(text).subarray(index * WIDTH, (index + 1) * WIDTH));
    const sharedTerms = [
      ...Array.from({ length: encoder.tokenize('a photo of').eosIndex }, (_, r) => row('a photo of', r)),
      ...Array.from({ length: 76 }, (_, r) => row('', r + 1)),
    ].map((c) => ({ c, s: 0.75 }));
    expect(built.problem.preserve).toHaveLength(keepTerms.length + sharedTerms.length);
    const held = [...keepTerms, ...sharedTerms];
    const a = sumOfOuterProducts(WIDTH, 0.5, [...eraseTerms.map(({ c, s }) => ({ x: c, y: c, s })), ...held.map(({ c, s }) => ({ x: c, y: c, s }))]);
    const b = sumOfOuterProducts(WIDTH, 0.5, [...eraseTerms.map(({ c, s }) => ({ x: target, y: c, s })), ...held.map(({ c, s }) => ({ x: c, y: c, s }))]);
    const reference = multiply(b, invert(a));

    const operator = solveEditOperator(built.problem);
    const m = matrix(WIDTH, WIDTH);
    for (let i = 0; i < WIDTH; i++) for (let j = 0; j < WIDTH; j++) {
      let sum = i === j ? 1 : 0;
      for (let k = 0; k < operator.rank; k++) sum += operator.u[i * operator.rank + k] * operator.vt[k * WIDTH + j];
      m.data[i * WIDTH + j] = sum;
    }
    let worst = 0;
    for (let i = 0; i < m.data.length; i++) worst = Math.max(worst, Math.abs(m.data[i] - reference.data[i]));
    expect(worst).toBeLessThan(1e-9);
    // And the weights matter: the unweighted edit differs.
    const unweighted = solveEditOperator({ ...built.problem, erase: built.problem.erase.map((c) => ({ ...c, scale: 1.5 })) });
    expect(Math.max(...Array.from(unweighted.vt, (v, i) => Math.abs(v - operator.vt[i])))).toBeGreaterThan(1e-3);
  });
});
