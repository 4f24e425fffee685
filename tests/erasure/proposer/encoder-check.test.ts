import { describe, expect, test } from 'vitest';
import type { ErasureEncoder } from '../../../src/erasure/problem-builder.ts';
import { checkCandidates } from '../../../src/erasure/proposer/encoder-check.ts';
import { PROMPT_TEMPLATES } from '../../../src/erasure/prompt-templates.ts';
import { SeededRandom } from '../../../src/util/random.ts';

const TOKENS = 77;
const WIDTH = 6;

/**
 * A word-level stand-in: one token per space-separated word. Rows of the concept words carry a
 * fixed vector per word; every other row (BOS, template words, EOS, padding) carries large noise,
 * so a check that read anything but the subject rows would be far off.
 */
function conceptEncoder(vectors: Record<string, number[]>): ErasureEncoder {
  const vocabulary = new Map<string, number>();
  const idOf = (word: string) => {
    if (!vocabulary.has(word)) vocabulary.set(word, vocabulary.size + 2);
    return vocabulary.get(word)!;
  };
  const tokenize = (text: string) => {
    const words = text.split(/\s+/).filter((w) => w !== '');
    const ids = new Int32Array(TOKENS);
    words.forEach((w, i) => (ids[i + 1] = idOf(w)));
    ids[words.length + 1] = 1;
    return { ids, eosIndex: words.length + 1 };
  };
  const noise = new SeededRandom(3);
  return {
    tokenize,
    async encode(prompts) {
      return prompts.map((text) => {
        const words = text.split(/\s+/).filter((w) => w !== '');
        const out = Float32Array.from(noise.normalArray(TOKENS * WIDTH, 100));
        words.forEach((w, i) => {
          if (vectors[w]) out.set(vectors[w], (i + 1) * WIDTH);
        });
        return out;
      });
    },
  };
}

const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  return dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
};
const mean = (...vs: number[][]) => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0) / vs.length);

describe('checking proposed corefs against the text encoder', () => {
  const v = {
    cat: [1, 0.2, 0, 0, 0.1, 0],
    kitty: [0.9, 0.3, 0.1, 0, 0, 0],
    house: [0.2, 0, 1, 0, 0, 0.3],
    siamese: [0, 0.1, 0, 1, 0.2, 0],
    dog: [0.1, 0, 0, 0.9, 0.3, 0.1],
    mouse: [0.3, 1, 0, 0.2, 0, 0],
  };

  test('similarity of the mean subject rows (multi-word subjects averaged), nearest kept concept, confirmed when nearer the concept', async () => {
    const check = await checkCandidates(
      { encoder: conceptEncoder(v), tokens: TOKENS, width: WIDTH },
      { concept: 'cat', kind: 'object', candidates: ['kitty', 'house cat', 'siamese'], kept: ['dog', 'mouse'] },
    );
    expect(check.concept).toBe('cat');
    expect(check.candidates.map((c) => c.concept)).toEqual(['kitty', 'house cat', 'siamese']);
    const expected = (word: number[]) => ({ similarity: cosine(word, v.cat), dog: cosine(word, v.dog), mouse: cosine(word, v.mouse) });
    const cases = [expected(v.kitty), expected(mean(v.house, v.cat)), expected(v.siamese)];
    check.candidates.forEach((c, i) => {
      const e = cases[i];
      expect(c.similarity).toBeCloseTo(e.similarity, 6);
      const nearest = e.dog > e.mouse ? { concept: 'dog', similarity: e.dog } : { concept: 'mouse', similarity: e.mouse };
      expect(c.nearestKept!.concept).toBe(nearest.concept);
      expect(c.nearestKept!.similarity).toBeCloseTo(nearest.similarity, 6);
      expect(c.confirmed).toBe(e.similarity > nearest.similarity);
    });
    expect(check.candidates.map((c) => c.confirmed)).toEqual([true, true, false]);
  });

  test('every template of the kind is encoded; nothing kept confirms every candidate; blank names are skipped', async () => {
    const encoder = conceptEncoder(v);
    const prompts: string[] = [];
    const recording: ErasureEncoder = { tokenize: encoder.tokenize, encode: async (p) => (prompts.push(...p), encoder.encode(p)) };
    const check = await checkCandidates({ encoder: recording, tokens: TOKENS, width: WIDTH }, { concept: 'cat', kind: 'object', candidates: ['siamese', ' '], kept: [] });
    expect(check.candidates).toEqual([{ concept: 'siamese', similarity: expect.closeTo(cosine(v.siamese, v.cat), 6), nearestKept: null, confirmed: true }]);
    expect(prompts).toHaveLength(2 * PROMPT_TEMPLATES.object.length);
    expect(prompts).toContain('a photo of siamese');
  });
});
