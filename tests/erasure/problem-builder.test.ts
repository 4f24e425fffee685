import { describe, expect, test } from 'vitest';
import type { EraseRequest } from '../../src/engine/api.ts';
import type { EraseConstraint, EditOperator } from '../../src/erasure/closed-form.ts';
import { editTextEmbedding } from '../../src/erasure/edit-embedding.ts';
import type { ClosedFormProblem, Vector } from '../../src/erasure/closed-form-problem.ts';
import { buildErasureProblem, rebuildFromRecipe, solveErasure, type BuiltErasure, type ErasureContext } from '../../src/erasure/problem-builder.ts';
import { fillTemplate, PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';
import { radiusScaleForEncoder, sampleRealEra } from '../../src/erasure/realera.ts';
import { parseRecipe, serializeRecipe } from '../../src/erasure/recipe.ts';
import { subjectTokenSpan } from '../../src/erasure/subject-span.ts';
import type { TokenSelectionMode } from '../../src/erasure/token-selection.ts';
import { InputError, ShapeError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { fakeTextEncoder, forgedTokenizer, tokenRow } from './fake-text-encoder.ts';

const WIDTH = 48;
const TOKENS = 77;
const context: ErasureContext = { width: WIDTH, tokens: TOKENS, packSha256: 'ab'.repeat(32), family: 'tiny-sd15' };

/** Words of pieces [from, to), '</w>' ending each word. */
function decode(pieces: readonly string[], from: number, to: number): string {
  return pieces.slice(from, to).join('').replaceAll('</w>', ' ').replace(/\s+/g, ' ').trim();
}

/**
 * The subject span found by searching the pieces for whole words spelling `concept` (for "",
 * the position after the words before the slot): independent of the builder's prefix method.
 */
function expectedSpan(template: string, concept: string): { start: number; end: number; eos: number } {
  const text = fillTemplate(template, concept).text;
  const { tokens: pieces, eosIndex } = forgedTokenizer().tokenize(text);
  const wordStart = (i: number) => i === 1 || pieces[i - 1].endsWith('</w>');
  const wordEnd = (i: number) => pieces[i - 1].endsWith('</w>');
  if (concept === '') {
    const head = template.slice(0, template.indexOf('{}')).trim().toLowerCase();
    for (let s = 1; s <= eosIndex; s++) if (decode(pieces, 1, s) === head && (s === 1 || wordEnd(s))) return { start: s, end: s, eos: eosIndex };
  } else {
    for (let start = 1; start < eosIndex; start++)
      for (let end = start + 1; end <= eosIndex; end++)
        if (wordStart(start) && wordEnd(end) && decode(pieces, start, end) === concept.toLowerCase()) return { start, end, eos: eosIndex };
  }
  throw new Error(`test: no span for ${JSON.stringify(concept)} in ${JSON.stringify(text)}`);
}

/** Rows 'mode' selects, by the definitions in token-selection.ts, from an independent span. */
function selectedCount(template: string, concept: string, mode: TokenSelectionMode): number {
  const { start, end, eos } = expectedSpan(template, concept);
  const focusStart = end > start ? start : start - 1;
  return mode === 'last' ? 1 : mode === 'all' ? TOKENS : eos - focusStart + 1;
}

/**
 * How many distinct shared rows the templates give: the encoder is causal, so two rows are the
 * same vector exactly when the token ids up to them are the same; the rows are each template's
 * rows before its slot and every row of the empty prompt.
 */
function sharedRowCount(templates: readonly string[]): number {
  const prefixes = new Set<string>();
  const tokenizer = forgedTokenizer();
  const add = (text: string, rows: number) => {
    const ids = Array.from(tokenizer.encode(text));
    for (let r = 0; r < rows; r++) prefixes.add(ids.slice(0, r + 1).join(','));
  };
  for (const template of templates) {
    if (!template.endsWith('{}')) throw new Error(`test: sharedRowCount takes templates that end in their slot, got ${JSON.stringify(template)}`);
    const text = fillTemplate(template, '').text;
    add(text, tokenizer.tokenize(text).eosIndex);
  }
  add('', TOKENS);
  return prefixes.size;
}

function bits(vector: Vector): Uint8Array {
  const array = Float64Array.from(vector as ArrayLike<number>);
  return new Uint8Array(array.buffer);
}

function expectSameProblem(a: ClosedFormProblem, b: ClosedFormProblem): void {
  expect(b.width).toBe(a.width);
  expect(b.lambda).toBe(a.lambda);
  expect(b.erase.length).toBe(a.erase.length);
  expect(b.preserve!.length).toBe(a.preserve!.length);
  a.erase.forEach((c, k) => {
    expect(bits(b.erase[k].input)).toEqual(bits(c.input));
    expect(bits(b.erase[k].target)).toEqual(bits(c.target));
    expect(b.erase[k].scale).toBe(c.scale);
  });
  a.preserve!.forEach((c, k) => {
    expect(bits(b.preserve![k].input)).toEqual(bits(c.input));
    expect(b.preserve![k].scale).toBe(c.scale);
  });
}

function applyM(operator: EditOperator, vector: Vector): Float64Array {
  return Float64Array.from(editTextEmbedding(operator, vector, 1));
}

const distance = (a: ArrayLike<number>, b: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

describe('subject token spans', () => {
  const tokenizer = forgedTokenizer();
  const tokenize = (text: string) => tokenizer.tokenize(text);
  const templates = ['{}', 'a photo of {}', 'a painting in the style of {}', '{}, oil on canvas', 'an artwork by {} in a museum', "{}'s portrait"];
  const concepts = ['dog', 'van gogh', 'a xylophone quartet', 'puppy', ''];

  test.each(templates)('template %j: every concept, the empty anchor included', (template) => {
    for (const concept of concepts) {
      const prompt = fillTemplate(template, concept);
      const got = subjectTokenSpan(prompt, tokenize, TOKENS);
      const want = expectedSpan(template, concept);
      expect({ concept, ...got.subject, eos: got.eosIndex }).toEqual({ concept, start: want.start, end: want.end, eos: want.eos });
    }
  });

  test('hand-counted spans', () => {
    // "a photo of dog" = BOS a photo of dog EOS; "puppy" is five pieces; "" sits after "of".
    expect(subjectTokenSpan(fillTemplate('a photo of {}', 'dog'), tokenize, TOKENS)).toEqual({ subject: { start: 4, end: 5 }, eosIndex: 5 });
    expect(subjectTokenSpan(fillTemplate('a photo of {}', 'puppy'), tokenize, TOKENS)).toEqual({ subject: { start: 4, end: 9 }, eosIndex: 9 });
    expect(subjectTokenSpan(fillTemplate('a photo of {}', ''), tokenize, TOKENS)).toEqual({ subject: { start: 4, end: 4 }, eosIndex: 4 });
    expect(subjectTokenSpan(fillTemplate('{}', ''), tokenize, TOKENS)).toEqual({ subject: { start: 1, end: 1 }, eosIndex: 1 });
  });

  test('a subject glued to letters, or cut off by the context length, is an InputError', () => {
    expect(() => subjectTokenSpan(fillTemplate('{}s', 'dog'), tokenize, TOKENS)).toThrow(/token boundaries.*template "\{\}s"|template "\{\}s".*token boundaries/);
    expect(() => subjectTokenSpan(fillTemplate('super{}', 'dog'), tokenize, TOKENS)).toThrow(InputError);
    const long = `${'a photo of a cat '.repeat(20)}{}`;
    expect(() => subjectTokenSpan(fillTemplate(long, 'dog'), tokenize, TOKENS)).toThrow(/beyond the 75 tokens/);
    // A tail cut after the subject is fine.
    const tail = `a photo of {} ${'and a cat '.repeat(30)}`;
    expect(subjectTokenSpan(fillTemplate(tail, 'dog'), tokenize, TOKENS).subject).toEqual({ start: 4, end: 5 });
  });
});

describe('buildErasureProblem (UCE)', () => {
  const concepts = { targets: [{ concept: 'dog', anchor: 'cat', weight: 2, corefs: [{ concept: 'puppy', weight: 0.5 }] }], retains: ['horse'], preserve: [{ concept: 'van gogh', weight: 3 }] };
  const templates = PROMPT_TEMPLATES.object;

  test.each(['last', 'subject', 'all'] as const)('mode %s: vector counts, scales and the one encode call', async (mode) => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem({ concepts, method: 'uce', tokens: mode, closedForm: { eraseScale: 1.5, preserveScale: 0.25 } }, encoder, context);
    const erasePrompts = [
      { concept: 'dog', weight: 2 },
      { concept: 'puppy', weight: 0.5 },
    ];
    const kept = [
      { concept: 'horse', weight: 1 },
      { concept: 'van gogh', weight: 3 },
    ];
    const eraseCounts = erasePrompts.flatMap(({ concept, weight }) => templates.map((t) => ({ count: selectedCount(t, concept, mode), scale: 1.5 * weight })));
    const keptCounts = kept.flatMap(({ concept, weight }) => templates.map((t) => ({ count: selectedCount(t, concept, mode), scale: 0.25 * weight })));
    const total = (list: { count: number }[]) => list.reduce((s, x) => s + x.count, 0);
    // The shared rows follow the kept concepts' rows, at preserveScale: the templates' distinct rows
    // before the slot (BOS once) and the empty prompt's 76 rows after BOS.
    const shared = sharedRowCount(templates);
    expect(shared).toBeGreaterThan(TOKENS - 1 + templates.length);
    expect(built.stats).toEqual({ eraseVectors: total(eraseCounts), preserveVectors: total(keptCounts) + shared, neighbors: 0, beyond: 0 });
    expect(built.problem.erase).toHaveLength(total(eraseCounts));
    expect(built.problem.preserve).toHaveLength(total(keptCounts) + shared);
    expect(built.problem.erase.map((c) => c.scale)).toEqual(eraseCounts.flatMap(({ count, scale }) => Array(count).fill(scale)));
    expect(built.problem.preserve!.map((c) => c.scale)).toEqual([...keptCounts.flatMap(({ count, scale }) => Array(count).fill(scale)), ...Array(shared).fill(0.25)]);
    if (mode === 'last') expect(total(eraseCounts)).toBe(12);
    if (mode === 'all') expect(total(eraseCounts)).toBe(12 * TOKENS);
    // One encode call; each distinct text once (dog, puppy, cat, horse, van gogh in 6 templates; the 6 templates with an empty slot).
    expect(encoder.calls).toHaveLength(1);
    expect(encoder.calls[0]).toHaveLength(6 * templates.length);
    expect(new Set(encoder.calls[0]).size).toBe(encoder.calls[0].length);
    expect(built.ms.sample).toBe(0);
    expect(built.recipe.realera).toBeNull();
    expect(built.recipe.prompts).toEqual({ templates, tokens: mode, sharedRows: 'keep' });
  });

  test("mode 'last': each erase vector is the target's last subject row, mapped to the anchor's, in pair/template order", async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem({ concepts, method: 'uce', tokens: 'last' }, encoder, context);
    const expected: { input: Float64Array; target: Float64Array }[] = [];
    for (const concept of ['dog', 'puppy'])
      for (const t of templates) {
        const e = expectedSpan(t, concept);
        const a = expectedSpan(t, 'cat');
        expected.push({
          input: tokenRow(encoder.embed(fillTemplate(t, concept).text), e.end - 1, WIDTH),
          target: tokenRow(encoder.embed(fillTemplate(t, 'cat').text), a.end - 1, WIDTH),
        });
      }
    built.problem.erase.forEach((c, k) => {
      expect(Array.from(c.input)).toEqual(Array.from(expected[k].input));
      expect(Array.from(c.target)).toEqual(Array.from(expected[k].target));
    });
    const horse = expectedSpan('a photo of {}', 'horse');
    expect(Array.from(built.problem.preserve![1].input)).toEqual(Array.from(tokenRow(encoder.embed('a photo of horse'), horse.end - 1, WIDTH)));
  });

  test("the empty anchor: 'last' maps onto BOS for \"{}\" and onto the word before the slot otherwise", async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem(
      { concepts: { targets: ['dog', 'cat'] }, method: 'uce', tokens: 'last', templates: ['{}', 'a photo of {}'] },
      encoder,
      context,
    );
    // "" is encoded once although two targets map to it.
    expect(encoder.calls[0]).toEqual(['dog', '', 'a photo of dog', 'a photo of', 'cat', 'a photo of cat']);
    expect(Array.from(built.problem.erase[0].target)).toEqual(Array.from(tokenRow(encoder.embed(''), 0, WIDTH)));
    expect(Array.from(built.problem.erase[1].target)).toEqual(Array.from(tokenRow(encoder.embed('a photo of'), 3, WIDTH)));
  });

  test('solved edit: target rows land on the anchor rows and retained rows stay as lambda -> 0 (error ~ lambda); lambda 0.5 moves retained rows little', async () => {
    for (const mode of ['last', 'subject'] as const) {
      const solve = async (lambda: number) => {
        const request: EraseRequest = {
          concepts: { targets: [{ concept: 'dog', anchor: 'cat' }], retains: ['horse'] },
          method: 'uce',
          tokens: mode,
          templates: ['a photo of {}', 'a painting of {}'],
          sharedRows: 'free',
          closedForm: { lambda },
        };
        const built = await buildErasureProblem(request, fakeTextEncoder(WIDTH), context);
        expect(built.problem.erase.length + built.problem.preserve!.length).toBeLessThan(WIDTH);
        const { operator } = solveErasure(built);
        const worst = (list: number[]) => Math.max(...list);
        return {
          before: worst(built.problem.erase.map((c) => distance(c.input, c.target) / norm(c.target))),
          erase: worst(built.problem.erase.map((c) => distance(applyM(operator, c.input), c.target) / norm(c.target))),
          keep: worst(built.problem.preserve!.map((c) => distance(applyM(operator, c.input), c.input) / norm(c.input))),
        };
      };
      const [coarse, fine, uce] = [await solve(1e-3), await solve(1e-4), await solve(0.5)];
      expect(fine.before).toBeGreaterThan(0.5);
      expect(fine.erase).toBeLessThan(1e-4 * fine.before);
      expect(fine.keep).toBeLessThan(1e-4);
      // The residual shrinks in proportion to lambda: the limit is the exact mapping.
      expect(coarse.erase / fine.erase).toBeGreaterThan(8);
      expect(coarse.erase / fine.erase).toBeLessThan(12);
      expect(coarse.keep / fine.keep).toBeGreaterThan(8);
      expect(uce.erase).toBeLessThan(0.05 * uce.before);
      expect(uce.keep).toBeLessThan(0.02);
    }
  });

  test('bad requests and bad encoders are clear errors', async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const base: EraseRequest = { concepts: { targets: ['dog'] }, method: 'uce', tokens: 'last' };
    const build = (request: unknown) => buildErasureProblem(request as EraseRequest, encoder, context);
    await expect(build({ ...base, method: 'esd' })).rejects.toThrow(/method: expected one of uce, realera, got "esd"/);
    await expect(build({ ...base, tokens: 'first' })).rejects.toThrow(/tokens: expected one of last, subject, all/);
    await expect(build({ ...base, realera: { seed: 1 } })).rejects.toThrow(/realera: RealEra options apply to method "realera" only/);
    await expect(build({ ...base, closedForm: { lambda: 0 } })).rejects.toThrow(/closedForm.lambda: expected a finite number > 0/);
    await expect(build({ ...base, closedForm: { solver: 'lu' } })).rejects.toThrow(/closedForm.solver/);
    await expect(build({ ...base, templates: ['a photo'] })).rejects.toThrow(/exactly one \{\} slot/);
    await expect(build({ ...base, templates: [] })).rejects.toThrow(/templates: expected a non-empty array/);
    await expect(build({ ...base, concepts: { targets: [] } })).rejects.toThrow(/targets/);
    await expect(build({ ...base, method: 'realera', realera: { seed: -1 } })).rejects.toThrow(/realera.seed/);
    await expect(build({ ...base, method: 'realera', realera: { options: { m: 1.5 } } })).rejects.toThrow(/realera.options.m/);
    await expect(build({ ...base, extra: 1 })).rejects.toThrow(/extra: unknown field/);
    const short = { ...encoder, encode: async (prompts: string[]) => prompts.slice(1).map(encoder.embed) };
    await expect(buildErasureProblem(base, short, context)).rejects.toThrow(ShapeError);
    const narrow = { ...encoder, encode: async (prompts: string[]) => prompts.map(() => new Float32Array(TOKENS * 8)) };
    await expect(buildErasureProblem(base, narrow, context)).rejects.toThrow(/expected 77x48/);
    await expect(buildErasureProblem(base, encoder, { ...context, packSha256: 'nope' })).rejects.toThrow(/packSha256/);
  });
});

describe('shared rows', () => {
  const concepts = { targets: [{ concept: 'dog', anchor: 'cat' }], retains: ['horse'] };
  const templates = ['a photo of {}', '{}'];

  test("'keep': the templates' rows before the slot, then the empty prompt's rows, each distinct vector once, at preserveScale", async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem({ concepts, method: 'uce', tokens: 'last', templates, closedForm: { preserveScale: 0.3 } }, encoder, context);
    const prefixRows = forgedTokenizer().tokenize('a photo of').eosIndex;
    const expected = [
      ...Array.from({ length: prefixRows }, (_, r) => tokenRow(encoder.embed('a photo of'), r, WIDTH)),
      // '{}' adds only BOS, already there; the empty prompt adds its rows after BOS.
      ...Array.from({ length: TOKENS - 1 }, (_, r) => tokenRow(encoder.embed(''), r + 1, WIDTH)),
    ];
    const shared = built.problem.preserve!.slice(2);
    expect(shared.map((c) => Array.from(c.input))).toEqual(expected.map((row) => Array.from(row)));
    expect(new Set(shared.map((c) => c.scale))).toEqual(new Set([0.3]));
    expect(built.recipe.prompts.sharedRows).toBe('keep');
    const free = await buildErasureProblem({ concepts, method: 'uce', tokens: 'last', templates, sharedRows: 'free' }, encoder, context);
    expect(free.problem.preserve).toHaveLength(2);
    expect(free.recipe.prompts.sharedRows).toBeUndefined();
    await expect(buildErasureProblem({ concepts, method: 'uce', tokens: 'last', sharedRows: 'some' as 'keep' }, encoder, context)).rejects.toThrow(
      /sharedRows: expected one of keep, free, got "some"/,
    );
  });

  test("solved with a small lambda: the erase rows land and the shared rows stay; 'free' moves the empty prompt's rows", async () => {
    // Wide enough that every constraint can hold exactly (UCE's regime: fewer constraints than d).
    const width = 160;
    const wide = { ...context, width };
    const solve = async (sharedRows: 'keep' | 'free') => {
      const encoder = fakeTextEncoder(width);
      const built = await buildErasureProblem({ concepts, method: 'uce', tokens: 'subject', templates, sharedRows, closedForm: { lambda: 1e-2 } }, encoder, wide);
      const { operator } = solveErasure(built);
      const moved = (row: Float64Array) => distance(applyM(operator, row), row) / norm(row);
      const empty = encoder.embed('');
      return {
        erase: Math.max(...built.problem.erase.map((c) => distance(applyM(operator, c.input), c.target) / norm(c.target))),
        empty: Math.max(...Array.from({ length: TOKENS }, (_, r) => moved(tokenRow(empty, r, width)))),
      };
    };
    const [keep, free] = [await solve('keep'), await solve('free')];
    expect(keep.erase).toBeLessThan(1e-3);
    expect(free.erase).toBeLessThan(1e-3);
    expect(keep.empty).toBeLessThan(1e-4);
    // Measured: 1.2e-5 kept, 1.8e-2 free.
    expect(free.empty).toBeGreaterThan(5e-3);
    expect(free.empty).toBeGreaterThan(100 * keep.empty);
  });

  test('a recipe without sharedRows (written before them) rebuilds without them; one with them rebuilds the same problem', async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem({ concepts, method: 'realera', tokens: 'subject', templates, realera: { options: { m: 1, n: 1 } } }, encoder, context);
    const json = serializeRecipe(built.recipe);
    expect(JSON.parse(json).prompts.sharedRows).toBe('keep');
    expectSameProblem(built.problem, (await rebuildFromRecipe(parseRecipe(json, 'r.json'), fakeTextEncoder(WIDTH), context)).problem);
    const legacy = JSON.parse(json);
    delete legacy.prompts.sharedRows;
    const old = await rebuildFromRecipe(parseRecipe(JSON.stringify(legacy), 'old.json'), fakeTextEncoder(WIDTH), context);
    expect(old.stats.preserveVectors).toBe(built.stats.preserveVectors - sharedRowCount(templates));
    // RealEra's beyond samples come after the shared rows in both.
    expect(Array.from(old.problem.preserve!.at(-1)!.input)).toEqual(Array.from(built.problem.preserve!.at(-1)!.input));
    expect(() => parseRecipe(JSON.stringify({ ...legacy, prompts: { ...legacy.prompts, sharedRows: 'all' } }), 'bad.json')).toThrow(/bad\.json.*prompts\.sharedRows/);
  });
});

describe('buildErasureProblem (RealEra)', () => {
  const templates = ['a photo of {}', 'a painting of {}'];
  const request = (tokens: TokenSelectionMode, seed = 11): EraseRequest => ({
    concepts: { targets: [{ concept: 'dog', weight: 2, corefs: ['puppy'] }], retains: ['horse'] },
    method: 'realera',
    tokens,
    templates,
    sharedRows: 'free',
    realera: { options: { m: 3, n: 2 }, seed },
  });

  test.each(['last', 'subject'] as const)('mode %s: exactly M neighbors and N beyond samples per erase prompt pair', async (mode) => {
    const built = await buildErasureProblem(request(mode), fakeTextEncoder(WIDTH), context);
    const promptPairs = 2 * templates.length;
    expect(built.stats.neighbors).toBe(3 * promptPairs);
    expect(built.stats.beyond).toBe(2 * promptPairs);
    const eraseCounts = ['dog', 'puppy'].flatMap((c) => templates.map((t) => selectedCount(t, c, mode)));
    const base = eraseCounts.reduce((a, b) => a + b, 0);
    const kept = templates.map((t) => selectedCount(t, 'horse', mode)).reduce((a, b) => a + b, 0);
    expect(built.stats.eraseVectors).toBe(base * (1 + 3));
    expect(built.stats.preserveVectors).toBe(kept + 2 * base);
    // Closed-form defaults for RealEra: preserve scale 0.1, times the pair's weight for its beyond samples.
    const scales = built.problem.preserve!.map((c) => c.scale);
    expect(scales.slice(0, kept)).toEqual(Array(kept).fill(0.1));
    expect(scales.slice(kept)).toEqual([...Array(2 * eraseCounts[0] + 2 * eraseCounts[1]).fill(0.2), ...Array(2 * eraseCounts[2] + 2 * eraseCounts[3]).fill(0.1)]);
    expect(built.ms.sample).toBeGreaterThan(0);
  });

  test('the documented RNG order: one SeededRandom, pair by pair, template by template, neighbors then beyond', async () => {
    const encoder = fakeTextEncoder(WIDTH);
    const built = await buildErasureProblem(request('last'), encoder, context);
    // Replay with sampleRealEra directly; the radius scale is measured from the erase prompts.
    const erasePrompts = ['dog', 'puppy'].flatMap((c) => templates.map((t) => ({ t, c })));
    const norms = erasePrompts.map(({ t, c }) => norm(encoder.embed(fillTemplate(t, c).text)));
    const radiusScale = radiusScaleForEncoder(norms.reduce((a, b) => a + b, 0) / norms.length);
    expect(built.recipe.realera!.options.radiusScale).toBeCloseTo(radiusScale, 12);
    const random = new SeededRandom(11);
    const neighbors: { input: Float64Array; target: Float64Array }[] = [];
    const beyond: Float64Array[] = [];
    for (const { t, c } of erasePrompts) {
      const e = encoder.embed(fillTemplate(t, c).text);
      const a = encoder.embed(fillTemplate(t, '').text);
      const samples = sampleRealEra(e, a, random, built.recipe.realera!.options);
      const eRow = expectedSpan(t, c).end - 1;
      const aRow = expectedSpan(t, '').start - 1;
      for (const n of samples.neighbors) neighbors.push({ input: tokenRow(n.erase, eRow, WIDTH), target: tokenRow(n.anchor, aRow, WIDTH) });
      for (const b of samples.beyond) beyond.push(tokenRow(b.embedding, eRow, WIDTH));
    }
    const fromNeighbors: readonly EraseConstraint[] = built.problem.erase.slice(4);
    expect(fromNeighbors).toHaveLength(neighbors.length);
    fromNeighbors.forEach((c, k) => {
      expect(Array.from(c.input)).toEqual(Array.from(neighbors[k].input));
      expect(Array.from(c.target)).toEqual(Array.from(neighbors[k].target));
    });
    expect(built.problem.preserve!.slice(2).map((c) => Array.from(c.input))).toEqual(beyond.map((b) => Array.from(b)));
  });

  test('a different seed gives different neighbors; the same seed the same', async () => {
    const a = await buildErasureProblem(request('last', 1), fakeTextEncoder(WIDTH), context);
    const b = await buildErasureProblem(request('last', 1), fakeTextEncoder(WIDTH), context);
    const c = await buildErasureProblem(request('last', 2), fakeTextEncoder(WIDTH), context);
    expectSameProblem(a.problem, b.problem);
    expect(Array.from(c.problem.erase[4].input)).not.toEqual(Array.from(a.problem.erase[4].input));
    expect(Array.from(c.problem.erase[0].input)).toEqual(Array.from(a.problem.erase[0].input));
  });
});

describe('rebuildFromRecipe', () => {
  async function roundTrip(request: EraseRequest): Promise<{ built: BuiltErasure; rebuilt: BuiltErasure }> {
    const built = await buildErasureProblem(request, fakeTextEncoder(WIDTH), context);
    const solved = solveErasure(built);
    const json = serializeRecipe(solved.recipe);
    const rebuilt = await rebuildFromRecipe(parseRecipe(json, 'recipe.json'), fakeTextEncoder(WIDTH), context);
    expectSameProblem(built.problem, rebuilt.problem);
    expect(rebuilt.stats).toEqual(built.stats);
    const again = solveErasure(rebuilt);
    expect(again.operator.solver).toBe(solved.operator.solver);
    expect(bits(again.operator.vt)).toEqual(bits(solved.operator.vt));
    expect(bits(again.operator.u)).toEqual(bits(solved.operator.u));
    expect(serializeRecipe(again.recipe)).toBe(json);
    return { built, rebuilt };
  }

  test.each(['last', 'subject', 'all'] as const)('UCE, mode %s: identical problem and operator', async (tokens) => {
    await roundTrip({ concepts: { kind: 'style', targets: [{ concept: 'van gogh', corefs: ['vincent'] }], preserve: ['monet'] }, method: 'uce', tokens });
  });

  test('RealEra: identical problem, the measured radius scale stored in the recipe', async () => {
    const { built } = await roundTrip({
      concepts: { targets: [{ concept: 'dog', anchor: 'cat', corefs: ['puppy'] }], retains: ['horse', 'ship'] },
      method: 'realera',
      tokens: 'subject',
      templates: ['a photo of {}', '{}', 'a painting of {} in a museum'],
      realera: { options: { m: 2, n: 2 }, seed: 4_000_000_000 },
      closedForm: { lambda: 0.3, solver: 'cholesky' },
    });
    expect(built.recipe.realera!.seed).toBe(4_000_000_000);
    expect(built.recipe.realera!.options.radiusScale).not.toBe(1);
    expect(built.recipe.closedForm).toEqual({ lambda: 0.3, eraseScale: 1, preserveScale: 0.1, solver: 'cholesky' });
  });

  test('a given radius scale is used as is', async () => {
    const built = await buildErasureProblem(
      { concepts: { targets: ['dog'] }, method: 'realera', tokens: 'last', templates: ['{}'], realera: { options: { radiusScale: 0.2 } } },
      fakeTextEncoder(WIDTH),
      context,
    );
    expect(built.recipe.realera).toEqual({ options: expect.objectContaining({ radiusScale: 0.2, m: 5, n: 3 }), seed: 0 });
  });

  test('another pack is refused', async () => {
    const built = await buildErasureProblem({ concepts: { targets: ['dog'] }, method: 'uce', tokens: 'last' }, fakeTextEncoder(WIDTH), context);
    await expect(rebuildFromRecipe(built.recipe, fakeTextEncoder(WIDTH), { ...context, packSha256: 'cd'.repeat(32) })).rejects.toThrow(/recipe: pack: .*load that pack/);
    await expect(rebuildFromRecipe(built.recipe, fakeTextEncoder(WIDTH), { ...context, family: 'sd15' })).rejects.toThrow(InputError);
  });
});
