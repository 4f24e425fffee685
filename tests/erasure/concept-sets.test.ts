import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/util/errors.ts';
import { defineConceptSet, erasurePairs, parseConceptSet, preservedConcepts } from '../../src/erasure/concept-sets.ts';
import { expandConcept, expandPair, fillTemplate, PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';

describe('concept sets', () => {
  test('defaults: anchor "", weight 1, kind object; corefs map to their target\'s anchor', () => {
    const set = defineConceptSet({
      targets: ['Van Gogh', { concept: 'airplane', anchor: 'sky', weight: 2, corefs: ['jet', { concept: 'Boeing 747', weight: 0.5 }] }],
      retains: ['bird'],
      preserve: [{ concept: 'Monet', weight: 3 }],
    });
    expect(set.kind).toBe('object');
    expect(set.targets[0]).toEqual({ concept: 'Van Gogh', weight: 1, anchor: '', corefs: [] });
    expect(erasurePairs(set)).toEqual([
      { concept: 'Van Gogh', anchor: '', weight: 1, role: 'target', target: 'Van Gogh' },
      { concept: 'airplane', anchor: 'sky', weight: 2, role: 'target', target: 'airplane' },
      { concept: 'jet', anchor: 'sky', weight: 1, role: 'coref', target: 'airplane' },
      { concept: 'Boeing 747', anchor: 'sky', weight: 0.5, role: 'coref', target: 'airplane' },
    ]);
    expect(preservedConcepts(set)).toEqual([
      { concept: 'bird', weight: 1, role: 'retain' },
      { concept: 'Monet', weight: 3, role: 'preserve' },
    ]);
  });

  test.each([
    [{ targets: [] }, /targets: expected a non-empty array/],
    [{ targets: ['x'], kind: 'animal' }, /kind: expected one of object, style, person/],
    [{ targets: ['  '] }, /targets\[0\]: expected a non-empty concept/],
    [{ targets: [{ concept: 'cat', weight: 0 }] }, /targets\[0\]\.weight: expected a finite number > 0, got 0/],
    [{ targets: [{ concept: 'cat', corefs: [{ concept: 'kitten', weight: -1 }] }] }, /targets\[0\]\.corefs\[0\]\.weight/],
    [{ targets: [{ concept: 'cat', anchors: 'dog' }] }, /targets\[0\]\.anchors: unknown field/],
    [{ targets: [{ concept: 'cat', anchor: 3 }] }, /targets\[0\]\.anchor: expected a string/],
    [{ targets: ['cat', 'Cat'] }, /targets\[1\]\.concept: "Cat" already appears at targets\[0\]\.concept/],
    [{ targets: ['cat'], retains: ['dog', 'CAT'] }, /retains\[1\]\.concept: "CAT" already appears/],
    [{ targets: ['cat', { concept: 'dog', anchor: 'cat' }] }, /targets\[1\]\.anchor: "cat" is itself erased/],
    [{ targets: [{ concept: 'cat', anchor: 'cat' }] }, /targets\[0\]\.anchor: the anchor "cat" is the target itself/],
    [{ targets: ['a {} b'] }, /reserved for prompt templates/],
    ['cat', /\(root\): expected an object/],
  ])('invalid %j is an InputError naming the field', (value, message) => {
    expect(() => parseConceptSet(value, 'recipe.json: conceptSet')).toThrow(InputError);
    expect(() => parseConceptSet(value, 'recipe.json: conceptSet')).toThrow(message);
  });
});

describe('prompt templates', () => {
  test('every kind has templates with one slot, the bare concept first', () => {
    for (const templates of Object.values(PROMPT_TEMPLATES)) {
      expect(templates[0]).toBe('{}');
      for (const template of templates) expect(template.split('{}')).toHaveLength(2);
    }
  });

  test('expansion records the concept\'s character span', () => {
    const prompts = expandConcept('Van Gogh', 'style');
    expect(prompts).toHaveLength(PROMPT_TEMPLATES.style.length);
    for (const prompt of prompts) expect(prompt.text.slice(prompt.subject.start, prompt.subject.end)).toBe('Van Gogh');
    expect(prompts[1].text).toBe('a painting in the style of Van Gogh');
  });

  test('the empty anchor leaves no stray spaces and an empty span at the slot', () => {
    expect(fillTemplate('a photo of {}', '')).toMatchObject({ text: 'a photo of', subject: { start: 10, end: 10 } });
    expect(fillTemplate('a still of {} in a movie', '')).toMatchObject({ text: 'a still of in a movie', subject: { start: 10, end: 10 } });
    expect(fillTemplate('{}', '')).toMatchObject({ text: '', subject: { start: 0, end: 0 } });
    const pairs = expandPair('dog', '', 'object');
    expect(pairs[1]).toMatchObject({ erase: { text: 'a photo of dog' }, anchor: { text: 'a photo of' } });
  });

  test('a template without exactly one slot is refused', () => {
    expect(() => fillTemplate('a photo', 'x')).toThrow(/exactly one \{\} slot/);
    expect(() => expandConcept('x', ['{} and {}'])).toThrow(InputError);
  });
});
