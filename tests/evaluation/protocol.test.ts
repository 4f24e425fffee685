import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { cifar10Preset, classesOfPrompts, parseClassList, parseConceptWorld, parsePromptFile, selectClasses } from '../../src/evaluation/presets.ts';
import { classesForConcepts, planPrompts, seedList } from '../../src/evaluation/protocol.ts';

const world = parseConceptWorld(JSON.parse(readFileSync('public/concept-world/world.json', 'utf8')), 'world.json');

describe('prompt plan', () => {
  const classes = [
    { name: 'cat', synonyms: ['kitty'] },
    { name: 'dog', synonyms: ['hound', 'pooch'] },
  ];
  test('names of every class, synonyms of the erased ones only, every template', () => {
    const prompts = planPrompts(classes, ['dog'], ['a photo of the {object}', '{object} art']);
    expect(prompts.map((p) => `${p.kind}:${p.className}:${p.text}`)).toEqual([
      'name:cat:a photo of the cat',
      'name:cat:cat art',
      'name:dog:a photo of the dog',
      'name:dog:dog art',
      'synonym:dog:a photo of the hound',
      'synonym:dog:hound art',
      'synonym:dog:a photo of the pooch',
      'synonym:dog:pooch art',
    ]);
  });

  test('bad plans are refused with the reason', () => {
    expect(() => planPrompts(classes, ['cow'], ['{object}'])).toThrow('erased class "cow" is not one of the classes (cat, dog)');
    expect(() => planPrompts(classes, ['cat', 'dog'], ['{object}'])).toThrow('every class is erased');
    expect(() => planPrompts(classes, ['cat'], ['a photo'])).toThrow('has no {object} slot');
    expect(() => planPrompts([classes[0]], ['cat'], ['{object}'])).toThrow('at least two classes');
    expect(() => seedList(0)).toThrow('number of seeds');
    expect(seedList(3, 10)).toEqual([10, 11, 12]);
  });

  test('an edit concept finds its class by name or synonym', () => {
    expect(classesForConcepts(world.objects, ['Kitty', 'truck', 'van gogh'])).toEqual(['cat', 'truck']);
  });
});

describe('presets and user files', () => {
  test('cifar10: the ten world objects with their synonyms and only evaluation templates, {style} filled per style', () => {
    const preset = cifar10Preset(world);
    expect(preset.classes.map((c) => c.name)).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(preset.classes[3].synonyms).toEqual(['feline', 'kitty', 'housecat']);
    const raw = JSON.parse(readFileSync('public/concept-world/world.json', 'utf8')) as { trainingTemplates: string[]; evaluationTemplates: string[]; styles: unknown[] };
    const styled = raw.evaluationTemplates.filter((t) => t.includes('{style}')).length;
    expect(preset.templates).toHaveLength(raw.evaluationTemplates.length - styled + styled * raw.styles.length);
    for (const t of preset.templates) {
      expect(t).toContain('{object}');
      expect(t).not.toContain('{style}');
      expect(t).not.toMatch(/ {2}/);
      expect(raw.trainingTemplates).not.toContain(t);
    }
    expect(selectClasses(preset.classes, ['dog', 'cat']).map((c) => c.name)).toEqual(['dog', 'cat']);
    expect(() => selectClasses(preset.classes, ['cow'])).toThrow('class "cow" is not in the preset');
  });

  test('class lists and prompt files', () => {
    expect(parseClassList('# mine\ncat: kitty, feline\n\ndog\n', 'classes.txt')).toEqual([
      { name: 'cat', synonyms: ['kitty', 'feline'] },
      { name: 'dog', synonyms: [] },
    ]);
    const prompts = parsePromptFile('cat: a cat on a mat\ncat/synonym: a kitty asleep\ndog: a dog: barking\n', 'prompts.txt');
    expect(prompts).toEqual([
      { text: 'a cat on a mat', className: 'cat', term: 'cat', kind: 'name' },
      { text: 'a kitty asleep', className: 'cat', term: 'cat', kind: 'synonym' },
      { text: 'a dog: barking', className: 'dog', term: 'dog', kind: 'name' },
    ]);
    expect(classesOfPrompts(prompts).map((c) => c.name)).toEqual(['cat', 'dog']);
    expect(() => parsePromptFile('just a prompt\n', 'prompts.txt')).toThrow('prompts.txt: line 1: expected "class: prompt"');
    expect(() => parseClassList('\n# nothing\n', 'c.txt')).toThrow('c.txt: (content): no classes');
    expect(() => parseConceptWorld({ objects: [{ name: 'cat' }], styles: [{ name: 'x' }], evaluationTemplates: ['a photo'] }, 'w.json')).toThrow('w.json: evaluationTemplates[0]');
  });
});
