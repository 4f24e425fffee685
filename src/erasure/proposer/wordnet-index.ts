/**
 * The compact WordNet 3.1 noun index (public/wordnet/nouns.txt, built by
 * tools/wordnet/build-index.ts), read into arrays: per synset its lemmas, lexicographer file,
 * hypernyms, instance hypernyms and corpus tag count, plus the inverse relations and a lemma ->
 * senses map in WordNet's sense order. The parser checks the header, the synset count and every
 * pointer, and names the line of anything it cannot read.
 */
import { FormatError } from '../../util/errors.ts';

export const WORDNET_INDEX_HEADER = 'lethe-wordnet-nouns 1';

/** WordNet's lexicographer file numbers that matter to the proposer. */
export const LEXFILE = { tops: 3, animal: 5, artifact: 6, body: 8, food: 13, location: 15, object: 17, phenomenon: 19, plant: 20, substance: 27 } as const;

export class WordNetIndex {
  private readonly senses = new Map<string, { synset: number; sense: number }[]>();
  readonly hyponyms: number[][];
  readonly instances: number[][];

  private constructor(
    readonly lemmas: readonly string[][],
    readonly lexfiles: Uint8Array,
    readonly hypernyms: readonly number[][],
    readonly instanceOf: readonly number[][],
    readonly tagCounts: Uint32Array,
    senseNumbers: readonly number[][],
  ) {
    const count = lemmas.length;
    this.hyponyms = Array.from({ length: count }, () => []);
    this.instances = Array.from({ length: count }, () => []);
    for (let i = 0; i < count; i++) {
      for (const parent of hypernyms[i]) this.hyponyms[parent].push(i);
      for (const parent of instanceOf[i]) this.instances[parent].push(i);
      lemmas[i].forEach((lemma, j) => {
        const key = lemmaKey(lemma);
        let list = this.senses.get(key);
        if (!list) this.senses.set(key, (list = []));
        list.push({ synset: i, sense: senseNumbers[i][j] });
      });
    }
    for (const list of this.senses.values()) list.sort((a, b) => a.sense - b.sense);
  }

  get size(): number {
    return this.lemmas.length;
  }

  static parse(text: string, file = 'wordnet/nouns.txt'): WordNetIndex {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const header = lines[0] ?? '';
    const match = /^lethe-wordnet-nouns 1 (\d+)$/.exec(header);
    if (!match) throw new FormatError(file, 'line 1', `expected "${WORDNET_INDEX_HEADER} <synset count>", got ${JSON.stringify(header.slice(0, 60))}`);
    const count = Number(match[1]);
    if (lines.length - 1 !== count) throw new FormatError(file, '(root)', `the header promises ${count} synsets, the file has ${lines.length - 1}`);
    const lemmas: string[][] = [];
    const senseNumbers: number[][] = [];
    const lexfiles = new Uint8Array(count);
    const hypernyms: number[][] = [];
    const instanceOf: number[][] = [];
    const tagCounts = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const where = `line ${i + 2}`;
      const [lexfile, lemmaField, pointerField = '', tags = ''] = lines[i + 1].split('\t');
      const lex = parseInt(lexfile, 36);
      if (!Number.isInteger(lex) || lex < 0 || lex > 44) throw new FormatError(file, where, `expected a lexicographer file number, got ${JSON.stringify(lexfile)}`);
      lexfiles[i] = lex;
      if (!lemmaField) throw new FormatError(file, where, 'a synset without lemmas');
      const names: string[] = [];
      const numbers: number[] = [];
      for (const item of lemmaField.split('|')) {
        const tilde = item.lastIndexOf('~');
        const sense = tilde >= 0 ? Number(item.slice(tilde + 1)) : 1;
        if (!Number.isInteger(sense) || sense < 1) throw new FormatError(file, where, `bad sense number in ${JSON.stringify(item)}`);
        names.push(tilde >= 0 ? item.slice(0, tilde) : item);
        numbers.push(sense);
      }
      lemmas.push(names);
      senseNumbers.push(numbers);
      const parents: number[] = [];
      const classes: number[] = [];
      for (const pointer of pointerField === '' ? [] : pointerField.split(',')) {
        const instance = pointer.startsWith('^');
        const target = parseInt(instance ? pointer.slice(1) : pointer, 36);
        if (!Number.isInteger(target) || target < 0 || target >= count || target === i) throw new FormatError(file, where, `pointer ${JSON.stringify(pointer)} is not another synset`);
        (instance ? classes : parents).push(target);
      }
      hypernyms.push(parents);
      instanceOf.push(classes);
      if (tags !== '') {
        const n = Number(tags);
        if (!Number.isInteger(n) || n < 0) throw new FormatError(file, where, `expected a tag count, got ${JSON.stringify(tags)}`);
        tagCounts[i] = n;
      }
    }
    return new WordNetIndex(lemmas, lexfiles, hypernyms, instanceOf, tagCounts, senseNumbers);
  }

  /**
   * The synsets of a noun in sense order (most common first). Tries the text as typed, then
   * as a singular ("cats", "boxes", "ponies", "mice").
   */
  lookup(word: string): number[] {
    for (const candidate of singulars(lemmaKey(word))) {
      const found = this.senses.get(candidate);
      if (found) return found.map((s) => s.synset);
    }
    return [];
  }

  /** A synset's name: its first lemma. */
  name(synset: number): string {
    return this.lemmas[synset][0];
  }

  isInstance(synset: number): boolean {
    return this.instanceOf[synset].length > 0;
  }

  /** Parents: hypernyms, or the classes an instance belongs to. */
  parents(synset: number): number[] {
    return [...this.hypernyms[synset], ...this.instanceOf[synset]];
  }

  /** Children: hyponyms and instances. */
  children(synset: number): number[] {
    return [...this.hyponyms[synset], ...this.instances[synset]];
  }
}

export function lemmaKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_]+/g, ' ');
}

const IRREGULAR_PLURALS: Record<string, string> = { mice: 'mouse', geese: 'goose', teeth: 'tooth', feet: 'foot', oxen: 'ox', lice: 'louse', dice: 'die', children: 'child', wolves: 'wolf', knives: 'knife', leaves: 'leaf', calves: 'calf', halves: 'half', loaves: 'loaf', shelves: 'shelf' };

function singulars(key: string): string[] {
  const out = [key];
  const words = key.split(' ');
  const last = words[words.length - 1];
  const head = words.slice(0, -1).join(' ');
  const join = (word: string) => (head ? `${head} ${word}` : word);
  if (IRREGULAR_PLURALS[last]) out.push(join(IRREGULAR_PLURALS[last]));
  if (last.endsWith('men')) out.push(join(`${last.slice(0, -3)}man`));
  if (last.endsWith('ies')) out.push(join(`${last.slice(0, -3)}y`));
  if (last.endsWith('es')) out.push(join(last.slice(0, -2)));
  if (last.endsWith('s') && !last.endsWith('ss')) out.push(join(last.slice(0, -1)));
  return out;
}
