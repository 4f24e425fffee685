import { describe, expect, test } from 'vitest';
import {
  addChips,
  CIFAR10_CLASSES,
  conceptFormFromRecipe,
  emptyTarget,
  eraseRequestFor,
  initialConceptForm,
  withCifar10Preserve,
  withMethod,
  type ConceptForm,
} from '../../src/app/concept-form.ts';
import { REALERA_CLOSED_FORM, UCE_CLOSED_FORM } from '../../src/erasure/closed-form-problem.ts';
import { PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';
import { REALERA_DEFAULTS } from '../../src/erasure/realera.ts';
import { parseRecipe, serializeRecipe, type ErasureRecipe } from '../../src/erasure/recipe.ts';
import { InputError } from '../../src/util/errors.ts';

function form(patch: Partial<ConceptForm> = {}): ConceptForm {
  return { ...initialConceptForm(), ...patch };
}

describe('concept panel -> EraseRequest', () => {
  test('a single concept: anchor "" by default, UCE settings, subject tokens, no RealEra block', () => {
    const request = eraseRequestFor(form({ targets: [{ ...emptyTarget(), concept: '  cat ' }] }));
    expect(request).toEqual({
      concepts: { kind: 'object', targets: [{ concept: 'cat', weight: 1, anchor: '', corefs: [] }], retains: [], preserve: [] },
      method: 'uce',
      tokens: 'subject',
      sharedRows: 'keep',
      closedForm: { lambda: UCE_CLOSED_FORM.lambda, eraseScale: UCE_CLOSED_FORM.eraseScale, preserveScale: UCE_CLOSED_FORM.preserveScale },
    });
    expect(request.templates).toBeUndefined(); // the engine uses the kind's templates
  });

  test('several targets with corefs, retains, preserve and weights map one to one; blank rows are dropped', () => {
    const request = eraseRequestFor(
      form({
        kind: 'style',
        targets: [
          { concept: 'Van Gogh', weight: 2, anchor: 'a painting', corefs: [{ concept: 'Vincent', weight: 0.5 }] },
          { concept: '   ', weight: 1, anchor: '', corefs: [] },
          { concept: 'Monet', weight: 1, anchor: '', corefs: [] },
        ],
        retains: [{ concept: 'Gauguin', weight: 1.5 }],
        preserve: [{ concept: 'Picasso', weight: 1 }],
        tokens: 'last',
        lambda: 0.25,
      }),
    );
    expect(request.concepts).toEqual({
      kind: 'style',
      targets: [
        { concept: 'Van Gogh', weight: 2, anchor: 'a painting', corefs: [{ concept: 'Vincent', weight: 0.5 }] },
        { concept: 'Monet', weight: 1, anchor: '', corefs: [] },
      ],
      retains: [{ concept: 'Gauguin', weight: 1.5 }],
      preserve: [{ concept: 'Picasso', weight: 1 }],
    });
    expect(request.tokens).toBe('last');
    expect(request.closedForm?.lambda).toBe(0.25);
  });

  test('RealEra sends its options and seed, and switching method loads its closed-form preset', () => {
    const uce = form({ targets: [{ ...emptyTarget(), concept: 'cat' }] });
    const realera = withMethod(uce, 'realera');
    expect([realera.lambda, realera.eraseScale, realera.preserveScale]).toEqual([REALERA_CLOSED_FORM.lambda, REALERA_CLOSED_FORM.eraseScale, REALERA_CLOSED_FORM.preserveScale]);
    const request = eraseRequestFor({ ...realera, realera: { ...realera.realera, m: 7, seed: 99 } });
    expect(request.method).toBe('realera');
    expect(request.realera).toEqual({ options: { s1: REALERA_DEFAULTS.s1, s2: REALERA_DEFAULTS.s2, m: 7, n: REALERA_DEFAULTS.n, d1: REALERA_DEFAULTS.d1, d2: REALERA_DEFAULTS.d2 }, seed: 99 });
    expect(request.closedForm?.preserveScale).toBe(0.1);
    expect(withMethod(realera, 'uce').preserveScale).toBe(UCE_CLOSED_FORM.preserveScale);
  });

  test('what the engine would refuse is an InputError naming the field', () => {
    const cat = { ...emptyTarget(), concept: 'cat' };
    expect(() => eraseRequestFor(form())).toThrow(/Type a concept to erase/);
    expect(() => eraseRequestFor(form({ targets: [cat], preserve: [{ concept: 'Cat', weight: 1 }] }))).toThrow(/The preserved concept "Cat".*already appears/);
    expect(() => eraseRequestFor(form({ targets: [{ ...cat, weight: 0 }] }))).toThrow(/The weight of "cat" must be a number above 0; it is 0/);
    expect(() => eraseRequestFor(form({ targets: [{ ...cat, weight: Number.NaN }] }))).toThrow(InputError);
    expect(() => eraseRequestFor(form({ targets: [cat], lambda: -1 }))).toThrow(/Lambda/);
    expect(() => eraseRequestFor(form({ targets: [cat], lambda: 0 }))).toThrow(/Lambda must be a number above 0; it is 0/);
    const realera = withMethod(form({ targets: [cat] }), 'realera');
    expect(() => eraseRequestFor({ ...realera, realera: { ...realera.realera, s2: 0.95 } })).toThrow(/S2/);
    expect(() => eraseRequestFor({ ...realera, realera: { ...realera.realera, d2: 100 } })).toThrow(/D2/);
    expect(() => eraseRequestFor({ ...realera, realera: { ...realera.realera, m: 1.5 } })).toThrow(/M \(neighbors\) must/);
  });

  test('CIFAR-10 preset fills preserve with the ten classes minus what is erased or retained', () => {
    const f = withCifar10Preserve(
      form({ targets: [{ concept: 'Cat', weight: 1, anchor: '', corefs: [{ concept: 'dog', weight: 1 }] }], retains: [{ concept: 'horse', weight: 1 }], preserve: [{ concept: 'tree', weight: 3 }] }),
    );
    expect(f.preserve.map((c) => c.concept)).toEqual(CIFAR10_CLASSES.filter((c) => !['cat', 'dog', 'horse'].includes(c)));
    expect(f.preserve.every((c) => c.weight === 1)).toBe(true);
    expect(() => eraseRequestFor(f)).not.toThrow();
  });

  test('chips: commas split, blanks and case-insensitive duplicates are skipped', () => {
    expect(addChips([{ concept: 'Kitten', weight: 2 }], ' tabby ,kitten,, Maine   Coon ')).toEqual([
      { concept: 'Kitten', weight: 2 },
      { concept: 'tabby', weight: 1 },
      { concept: 'Maine Coon', weight: 1 },
    ]);
  });

  test('a recipe refills the form so that it sends the same request again', () => {
    const f = withMethod(
      form({ kind: 'object', targets: [{ concept: 'cat', weight: 1.5, anchor: 'animal', corefs: [{ concept: 'kitten', weight: 1 }] }], preserve: [{ concept: 'dog', weight: 1 }], tokens: 'all' }),
      'realera',
    );
    const request = eraseRequestFor({ ...f, lambda: 0.7, realera: { ...f.realera, s1: 0.8, seed: 5 } });
    const recipe: ErasureRecipe = parseRecipe(
      serializeRecipe({
        format: 'lethe-erasure-recipe',
        version: 1,
        lethe: '0.1.0',
        pack: { sha256: 'a'.repeat(64), family: 'tiny-sd15' },
        concepts: { kind: 'object', targets: [{ concept: 'cat', weight: 1.5, anchor: 'animal', corefs: [{ concept: 'kitten', weight: 1 }] }], retains: [], preserve: [{ concept: 'dog', weight: 1 }] },
        method: 'realera',
        prompts: { templates: [...PROMPT_TEMPLATES.object], tokens: 'all', sharedRows: 'keep' },
        realera: { options: { ...REALERA_DEFAULTS, ...request.realera!.options }, seed: 5 },
        closedForm: { lambda: 0.7, eraseScale: 1, preserveScale: 0.1, solver: 'cholesky' },
      }),
      'recipe.json',
    );
    const refilled = conceptFormFromRecipe(recipe, initialConceptForm());
    expect(eraseRequestFor(refilled)).toEqual(request);
    // A recipe from before shared rows (no field) refills the form with them off, so it erases as it did.
    const { sharedRows: _kept, ...oldPrompts } = recipe.prompts;
    expect(conceptFormFromRecipe({ ...recipe, prompts: oldPrompts }, initialConceptForm()).sharedRows).toBe('free');
  });
});
