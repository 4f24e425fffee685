import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/util/errors.ts';
import { pairTokenIndices, pairTokenVectors, selectTokenIndices, selectTokenVectors, type PromptEmbedding } from '../../src/erasure/token-selection.ts';

const width = 3;
const tokens = 12;

/** Row t holds (t, t + 0.25, t + 0.5) plus `offset`, so a selected vector names its token. */
function prompt(eosIndex: number, start: number, end: number, offset = 0): PromptEmbedding {
  const values = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < width; j++) values[t * width + j] = offset + t + j / 4;
  return { values, tokens, width, eosIndex, subject: { start, end } };
}

describe('token selection', () => {
  // "a photo of van gogh": bos a photo of van gogh eos -> subject [4, 6), eos 6
  const vanGogh = prompt(6, 4, 6);
  // "a photo of": bos a photo of eos -> empty subject at 4, eos 4
  const photoOf = prompt(4, 4, 4, 100);
  // "": bos eos -> empty subject at 1
  const empty = prompt(1, 1, 1, 200);

  test('last: the last subject token, or the token before an empty subject', () => {
    expect(selectTokenIndices(vanGogh, 'last')).toEqual([5]);
    expect(selectTokenIndices(photoOf, 'last')).toEqual([3]);
    expect(selectTokenIndices(empty, 'last')).toEqual([0]);
  });

  test('subject: the subject tokens and the tokens after them up to and including eos', () => {
    expect(selectTokenIndices(vanGogh, 'subject')).toEqual([4, 5, 6]);
    expect(selectTokenIndices(prompt(9, 4, 5), 'subject')).toEqual([4, 5, 6, 7, 8, 9]);
    expect(selectTokenIndices(empty, 'subject')).toEqual([0, 1]);
  });

  test('all: every token, padding included', () => {
    expect(selectTokenIndices(vanGogh, 'all')).toEqual(Array.from({ length: tokens }, (_, i) => i));
  });

  test('selected vectors are the rows of those tokens, as float64', () => {
    const vectors = selectTokenVectors(vanGogh, 'subject');
    expect(vectors.map((v) => Array.from(v))).toEqual([4, 5, 6].map((t) => [t, t + 0.25, t + 0.5]));
    expect(vectors[0]).toBeInstanceOf(Float64Array);
  });

  test('pairing with an anchor: subject tokens meet the anchor focus, eos meets eos', () => {
    expect(pairTokenIndices(vanGogh, photoOf, 'subject')).toEqual({ eraseIndices: [4, 5, 6], anchorIndices: [3, 3, 4] });
    expect(pairTokenIndices(vanGogh, empty, 'subject')).toEqual({ eraseIndices: [4, 5, 6], anchorIndices: [0, 0, 1] });
    expect(pairTokenIndices(vanGogh, empty, 'last')).toEqual({ eraseIndices: [5], anchorIndices: [0] });
    // "a still of van gogh in a movie" vs "a still of in a movie": the suffix lines up token by token.
    expect(pairTokenIndices(prompt(9, 4, 6), prompt(7, 4, 4), 'subject')).toEqual({ eraseIndices: [4, 5, 6, 7, 8, 9], anchorIndices: [3, 3, 4, 5, 6, 7] });
    const all = pairTokenIndices(vanGogh, empty, 'all');
    expect(all.anchorIndices).toEqual(all.eraseIndices);
    const { inputs, targets } = pairTokenVectors(vanGogh, photoOf, 'last');
    expect([inputs[0][0], targets[0][0]]).toEqual([5, 103]);
  });

  test('inconsistent spans and shapes are InputErrors naming the field', () => {
    expect(() => selectTokenIndices(prompt(6, 0, 2), 'last')).toThrow(/prompt\.subject: expected token indices 1 <= start/);
    expect(() => selectTokenIndices(prompt(6, 4, 7), 'last')).toThrow(/subject/);
    expect(() => selectTokenIndices(prompt(12, 4, 5), 'last')).toThrow(/eosIndex: expected an integer in \[1, 11\]/);
    expect(() => selectTokenIndices({ ...vanGogh, values: new Float32Array(5) }, 'all')).toThrow(/values: expected 12x3/);
    expect(() => selectTokenIndices(vanGogh, 'first' as never)).toThrow(InputError);
    expect(() => pairTokenIndices(vanGogh, { ...photoOf, width: 2, values: new Float32Array(24) }, 'last')).toThrow(/anchor/);
  });
});
