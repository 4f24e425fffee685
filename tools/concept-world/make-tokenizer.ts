/**
 * Writes the concept world's CLIP tokenizer folder: the forge's genuine byte-level BPE, with merges
 * learned from the built-in prompt corpus plus every caption word of world.json, so that class
 * names, synonyms, styles and colors are whole tokens (as "cat" is in the real 49408-entry CLIP
 * vocabulary) while any other text still tokenizes into smaller pieces.
 * Usage: node bin/run-ts.mjs tools/concept-world/make-tokenizer.ts OUT_DIR
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { forgeClipTokenizerFiles } from '../../src/model/forge/tokenizer-files.ts';

interface World {
  objects: { name: string; synonyms: string[] }[];
  styles: { name: string; words: string[] }[];
  colors: string[];
  trainingTemplates: string[];
  evaluationTemplates: string[];
}

const MERGES = 647; // every word of both corpora becomes a whole token

const outDir = process.argv[2];
if (!outDir) throw new Error('usage: make-tokenizer.ts OUT_DIR');
const world = JSON.parse(readFileSync(new URL('../../public/concept-world/world.json', import.meta.url), 'utf8')) as World;

const corpus: string[] = [];
const words = world.objects.flatMap((o) => [o.name, ...o.synonyms]);
const styleWords = world.styles.flatMap((s) => s.words).filter((w) => w !== '');
for (const template of [...world.trainingTemplates, ...world.evaluationTemplates]) {
  for (const word of words) {
    // Weighted like training: each template with each word, a style and a color, so no word loses
    // its merges to a frequent neighbor.
    const style = styleWords[corpus.length % styleWords.length];
    const color = world.colors[corpus.length % world.colors.length];
    corpus.push(template.replace('{object}', word).replace('{style}', style).replace('{color}', color));
  }
}
const files = forgeClipTokenizerFiles({ variant: 'sd15', merges: MERGES, extraCorpus: corpus });
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'vocab.json'), files.vocabJson);
writeFileSync(join(outDir, 'merges.txt'), files.mergesTxt);
writeFileSync(join(outDir, 'tokenizer_config.json'), files.tokenizerConfigJson);
writeFileSync(join(outDir, 'special_tokens_map.json'), files.specialTokensMapJson);
console.log(`tokenizer: ${files.vocabSize} tokens -> ${outDir}`);
