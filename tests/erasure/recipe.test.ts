import { describe, expect, test } from 'vitest';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { defineConceptSet } from '../../src/erasure/concept-sets.ts';
import { PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';
import { REALERA_DEFAULTS } from '../../src/erasure/realera.ts';
import { LETHE_VERSION, parseRecipe, RECIPE_FORMAT, serializeRecipe, type ErasureRecipe } from '../../src/erasure/recipe.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function sampleRecipe(): ErasureRecipe {
  return {
    format: RECIPE_FORMAT,
    version: 1,
    lethe: LETHE_VERSION,
    pack: { sha256: 'ab'.repeat(32), family: 'sd15' },
    concepts: defineConceptSet({
      kind: 'style',
      targets: [{ concept: 'Van Gogh', anchor: 'a painter', weight: 1.5, corefs: ['Vincent van Gogh', { concept: 'van gogh style', weight: 0.5 }] }],
      retains: ['Monet'],
      preserve: ['Picasso', { concept: 'Rembrandt', weight: 0.25 }],
    }),
    method: 'realera',
    prompts: { templates: [...PROMPT_TEMPLATES.style], tokens: 'subject' },
    realera: { options: { ...REALERA_DEFAULTS, radiusScale: 1.0625 }, seed: 1234 },
    closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 0.1, solver: 'woodbury' },
  };
}

/** The same recipe with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
  return value;
}

function expectFieldError(text: string, field: string): void {
  try {
    parseRecipe(text, 'edit.recipe.json');
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).file).toBe('edit.recipe.json');
    expect((error as FormatError).field).toBe(field);
    return;
  }
  throw new Error(`expected a FormatError at ${field}`);
}

describe('erasure recipe', () => {
  test('round trip: parse(serialize(r)) equals r and re-serializes to the same bytes', () => {
    const recipe = sampleRecipe();
    const text = serializeRecipe(recipe);
    const parsed = parseRecipe(text, 'r.json');
    expect(parsed).toEqual(recipe);
    expect(serializeRecipe(parsed)).toBe(text);
    expect(text.endsWith('}\n')).toBe(true);
  });

  test('equal recipes give equal bytes whatever order their keys were built in', () => {
    const recipe = sampleRecipe();
    expect(serializeRecipe(reversedKeys(recipe) as ErasureRecipe)).toBe(serializeRecipe(recipe));
    expect(Object.keys(JSON.parse(serializeRecipe(recipe)))).toEqual(['format', 'version', 'lethe', 'pack', 'concepts', 'method', 'prompts', 'realera', 'closedForm']);
  });

  test('a UCE recipe has realera null, and a seed changes the bytes', () => {
    const uce: ErasureRecipe = { ...sampleRecipe(), method: 'uce', realera: null };
    expect(parseRecipe(serializeRecipe(uce), 'u.json').realera).toBeNull();
    const other = sampleRecipe();
    expect(serializeRecipe({ ...other, realera: { ...other.realera!, seed: 1235 } })).not.toBe(serializeRecipe(other));
  });

  // [path of the mutated field (as parseRecipe names it), mutation]
  const mutations: [string, (j: Record<string, any>) => void][] = [
    ['format', (j) => (j.format = 'lethe-pack')],
    ['version', (j) => (j.version = 2)],
    ['lethe', (j) => (j.lethe = 'latest')],
    ['pack.sha256', (j) => (j.pack.sha256 = 'AB'.repeat(32))],
    ['pack.sha256', (j) => (j.pack.sha256 = 'ab'.repeat(31))],
    ['pack.family', (j) => (j.pack.family = 'sdxl')],
    ['pack.extra', (j) => (j.pack.extra = 1)],
    ['concepts.targets', (j) => (j.concepts.targets = [])],
    ['concepts.targets[0].weight', (j) => (j.concepts.targets[0].weight = -1)],
    ['concepts.preserve[0].concept', (j) => (j.concepts.preserve[0].concept = 'Van Gogh')],
    ['method', (j) => (j.method = 'esd')],
    ['prompts.templates', (j) => (j.prompts.templates = [])],
    ['prompts.templates[1]', (j) => (j.prompts.templates[1] = 'a painting by')],
    ['prompts.templates[2]', (j) => (j.prompts.templates[2] = '{} and {}')],
    ['prompts.tokens', (j) => (j.prompts.tokens = 'first')],
    ['realera', (j) => (j.realera = null)],
    ['realera', (j) => ((j.method = 'uce'), (j.realera.seed = 1))],
    ['realera.seed', (j) => (j.realera.seed = -1)],
    ['realera.seed', (j) => (j.realera.seed = 1.5)],
    ['realera.options.s2', (j) => (j.realera.options.s2 = 0.95)],
    ['realera.options.m', (j) => (j.realera.options.m = 2.5)],
    ['realera.options.d1', (j) => delete j.realera.options.d1],
    ['realera.options.d3', (j) => (j.realera.options.d3 = 1)],
    ['closedForm.lambda', (j) => (j.closedForm.lambda = 0)],
    ['closedForm.eraseScale', (j) => (j.closedForm.eraseScale = '1')],
    ['closedForm.solver', (j) => (j.closedForm.solver = 'lu')],
    ['closedForm.device', (j) => (j.closedForm.device = 'tpu')],
    ['closedForm', (j) => (j.closedForm = [])],
    ['extra', (j) => (j.extra = true)],
  ];

  test.each(mutations)('a bad %s is a FormatError naming that field', (field, mutate) => {
    const json = JSON.parse(serializeRecipe(sampleRecipe()));
    mutate(json);
    expectFieldError(JSON.stringify(json), field);
  });

  test('a legacy closedForm.device ("cpu" or "gpu") is read and ignored, and no longer written', () => {
    const text = serializeRecipe(sampleRecipe());
    expect(JSON.parse(text).closedForm).not.toHaveProperty('device');
    for (const device of ['cpu', 'gpu']) {
      const json = JSON.parse(text);
      json.closedForm.device = device;
      const parsed = parseRecipe(JSON.stringify(json), 'old.json');
      expect(parsed).toEqual(sampleRecipe());
      expect(serializeRecipe(parsed)).toBe(text);
    }
  });

  test('text that is not JSON, or not an object, fails at the root', () => {
    expectFieldError('{"format": ', '(root)');
    expectFieldError('[]', '(root)');
    expect(() => serializeRecipe({ ...sampleRecipe(), closedForm: { ...sampleRecipe().closedForm, lambda: Number.NaN } })).toThrow(/closedForm\.lambda/);
  });

  test('seeded random mutations end in a valid recipe that round-trips, or a FormatError', () => {
    const base = serializeRecipe(sampleRecipe());
    const rng = new SeededRandom(77);
    const special: Json[] = [null, true, 0, -1, 0.5, 1e308, '', 'x', '{}', 'sd21', 'uce', [], {}, ['{}']];
    let valid = 0;
    for (let round = 0; round < 400; round++) {
      let text: string;
      if (rng.uniform() < 0.5) {
        const json = JSON.parse(base) as Json;
        const slots: { parent: any; key: string | number }[] = [];
        const visit = (node: Json): void => {
          if (Array.isArray(node)) node.forEach((child, i) => (slots.push({ parent: node, key: i }), visit(child)));
          else if (node && typeof node === 'object') for (const key of Object.keys(node)) (slots.push({ parent: node, key }), visit(node[key]));
        };
        visit(json);
        const { parent, key } = slots[Math.floor(rng.uniform() * slots.length)];
        const action = rng.uniform();
        if (action < 0.3) Array.isArray(parent) ? parent.splice(key as number, 1) : delete parent[key];
        else parent[key] = structuredClone(special[Math.floor(rng.uniform() * special.length)]);
        text = JSON.stringify(json);
      } else {
        const at = Math.floor(rng.uniform() * base.length);
        text = base.slice(0, at) + String.fromCharCode(32 + (rng.nextUint32() % 95)) + base.slice(at + 1);
      }
      let parsed: ErasureRecipe;
      try {
        parsed = parseRecipe(text, 'm.json');
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        continue;
      }
      valid++;
      expect(parseRecipe(serializeRecipe(parsed), 'm.json')).toEqual(parsed);
    }
    expect(valid).toBeGreaterThan(0);
    expect(valid).toBeLessThan(400);
  });
});
