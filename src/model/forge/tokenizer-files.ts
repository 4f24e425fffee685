/**
 * A small but genuine CLIP byte-level BPE tokenizer for forged test models, written as the
 * four files a Stable Diffusion repo's `tokenizer/` folder holds. The vocabulary is laid out
 * as CLIP's: 256 byte symbols, the same with `</w>`, one entry per merge in merge order, then
 * `<|startoftext|>` and `<|endoftext|>` as the last two ids. The merges are learned by plain
 * BPE training on a built-in corpus of prompt-like English, so common prompt words become
 * single tokens and everything else falls back to smaller pieces, as with the real 49408.
 *
 * Byte symbols and the word split are restated here rather than imported from
 * src/pipeline/tokenizer: the model layer sits below the pipeline, and forged files should not
 * share code with the reader that is tested on them.
 */
import { InputError } from '../../util/errors.ts';

export type ClipTokenizerVariant = 'sd15' | 'sd21';

export interface ForgeClipTokenizerOptions {
  /** sd15 pads with `<|endoftext|>`; sd21 (OpenCLIP-style config) pads with "!" (id 0). */
  variant: ClipTokenizerVariant;
  /** Number of BPE merges to learn; vocabSize = 514 + merges. */
  merges?: number;
  /** Prompts learned from after the built-in corpus, so that a model's own words become whole tokens. */
  extraCorpus?: readonly string[];
}

export interface ForgedClipTokenizerFiles {
  vocabJson: string;
  mergesTxt: string;
  tokenizerConfigJson: string;
  specialTokensMapJson: string;
  vocabSize: number;
}

export const DEFAULT_FORGED_MERGES = 400;

const START_OF_TEXT = '<|startoftext|>';
const END_OF_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';
const WORD_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/gu;

/**
 * Prompt-like English the merges are learned from: the subjects, styles and templates the
 * tests and the demo use (CIFAR-10 and Imagenette classes, artists, art styles).
 */
const CORPUS: readonly string[] = [
  'a photo of a cat', 'a photo of a dog', 'a photo of an airplane', 'a photo of an automobile',
  'a photo of a bird', 'a photo of a deer', 'a photo of a frog', 'a photo of a horse',
  'a photo of a ship', 'a photo of a truck', 'a photo of the cat', 'a photo of the dog',
  'a close-up photo of a cat', 'a blurry photo of a dog', 'a bright photo of a horse',
  'a black and white photo of a ship', 'a photo of a small bird', 'a photo of a big truck',
  'a painting of a cat', 'a painting of a dog', 'a painting of a horse', 'a painting of a ship',
  'a painting in the style of van gogh', 'a painting by vincent van gogh', 'the starry night by van gogh',
  'sunflowers painted by van gogh', 'a painting in the style of claude monet', 'water lilies by monet',
  'a painting in the style of pablo picasso', 'a cubist portrait by picasso', 'a portrait by rembrandt',
  'the mona lisa by leonardo da vinci', 'a painting by salvador dali', 'a self portrait by frida kahlo',
  'the great wave by hokusai', 'a painting by andy warhol', 'a painting by gustav klimt',
  'an impressionist painting of a garden', 'a surrealist painting of a clock', 'a cubist painting of a guitar',
  'an oil painting of a landscape', 'a watercolor painting of a lake', 'a pencil sketch of a face',
  'a charcoal drawing of a tree', 'pixel art of a castle', 'anime style drawing of a girl',
  'a baroque painting of a church', 'a renaissance fresco', 'an abstract expressionist painting',
  'a digital painting of a dragon', 'concept art of a city at night', 'a 3d render of a robot',
  'a photo of a church', 'a photo of a parachute', 'a photo of a garbage truck', 'a photo of a golf ball',
  'a photo of a chain saw', 'a photo of a french horn', 'a photo of a gas pump', 'a photo of a tench',
  'a photo of an english springer', 'a photo of a cassette player', 'a photo of a tabby cat',
  'a golden retriever playing in the park', 'a cat sitting on a chair', 'a dog running on the beach',
  'an airplane flying over the mountains', 'a red sports car on the road', 'a ship sailing on the ocean',
  'a horse standing in a field', 'a frog on a leaf', 'a deer in the forest', 'a bird on a branch',
  'a truck driving through the desert', 'a portrait of a woman', 'a portrait of a man', 'a photo of a person',
  'a landscape with mountains and rivers', 'a city street in the rain', 'a house by the lake',
  'it\'s a sunny day', 'don\'t look back', 'the cat\'s toy', 'we\'re at the beach', 'i\'ve seen the sea',
  'i\'m painting', 'you\'ll see', 'she\'d like a dog', 'they\'re flying', 'high quality, highly detailed',
  'trending on artstation', '4k, 8k, hdr', 'studio lighting', 'cinematic lighting, dramatic shadows',
  'in the style of', 'by an artist', 'masterpiece, best quality', 'a beautiful painting',
  'a photograph of a painting', 'an illustration of an animal', 'a cartoon of a cat', 'a drawing of a dog',
  'a sculpture of a horse', 'a mosaic of a bird', 'a painting of an airplane', 'a painting of a truck',
  'a painting of a frog', 'a painting of a deer', 'a painting of a bird', 'a photo of a car',
  'a photo of an animal', 'a photo of a vehicle', 'nature, animals, vehicles, art, styles',
];

/**
 * Byte -> symbol in CLIP's bytes_to_unicode, and the 256 symbols in vocab order (printable
 * Latin-1 bytes first, then the others mapped to U+0100 onwards in byte order).
 */
function byteSymbolTables(): { symbolOfByte: string[]; vocabOrder: string[] } {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const symbolOfByte = new Array<string>(256);
  const first: string[] = [];
  const rest: string[] = [];
  let borrowed = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) first.push((symbolOfByte[b] = String.fromCharCode(b)));
  }
  for (let b = 0; b < 256; b++) {
    if (!printable(b)) rest.push((symbolOfByte[b] = String.fromCharCode(0x100 + borrowed++)));
  }
  return { symbolOfByte, vocabOrder: [...first, ...rest] };
}

/** Corpus words as BPE starts them: byte symbols, the last one carrying `</w>`; with counts. */
function corpusWords(symbolOfByte: readonly string[], extraCorpus: readonly string[]): { symbols: string[]; count: number }[] {
  const utf8 = new TextEncoder();
  const counts = new Map<string, number>();
  for (const line of [...CORPUS, ...extraCorpus]) {
    const text = line.normalize('NFC').replace(/\p{White_Space}+/gu, ' ').toLowerCase();
    for (const word of text.match(WORD_PATTERN) ?? []) {
      const encoded = Array.from(utf8.encode(word), (b) => symbolOfByte[b]).join('');
      counts.set(encoded, (counts.get(encoded) ?? 0) + 1);
    }
  }
  return [...counts].map(([word, count]) => {
    const symbols = Array.from(word);
    symbols[symbols.length - 1] += END_OF_WORD;
    return { symbols, count };
  });
}

/**
 * Learns `count` merges: repeatedly joins the most frequent adjacent pair (ties: the smaller
 * "left right" string, so the result never depends on iteration order). A pair whose join is
 * already a vocabulary entry is skipped, keeping every vocab string unique.
 */
function learnMerges(words: { symbols: string[]; count: number }[], baseVocab: ReadonlySet<string>, count: number): [string, string][] {
  const known = new Set(baseVocab);
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count: weight } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + weight);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, n] of pairCounts) {
      if (known.has(key.replace(' ', ''))) continue;
      if (n > bestCount || (n === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = n;
      }
    }
    if (best === null)
      throw new InputError(`forge tokenizer: the built-in corpus supports only ${merges.length} merges, ${count} were asked for`);
    const [left, right] = best.split(' ') as [string, string];
    const joined = left + right;
    merges.push([left, right]);
    known.add(joined);
    for (const word of words) {
      const out: string[] = [];
      const s = word.symbols;
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(joined);
          i++;
        } else {
          out.push(s[i]);
        }
      }
      word.symbols = out;
    }
  }
  return merges;
}

/** JSON as transformers' save_vocabulary writes vocab.json: indent 2, keys sorted, raw UTF-8. */
function vocabFileText(tokens: readonly string[]): string {
  const entries = tokens.map((token, id) => [token, id] as const);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{\n${entries.map(([token, id]) => `  ${JSON.stringify(token)}: ${id}`).join(',\n')}\n}\n`;
}

function addedToken(content: string, withType: boolean): Record<string, unknown> {
  return {
    ...(withType ? { __type: 'AddedToken' } : {}),
    content,
    lstrip: false,
    normalized: true,
    rstrip: false,
    single_word: false,
  };
}

/** Writes the tokenizer folder; the same options give the same bytes every call. */
export function forgeClipTokenizerFiles(options: ForgeClipTokenizerOptions): ForgedClipTokenizerFiles {
  const mergeCount = options.merges ?? DEFAULT_FORGED_MERGES;
  if (!Number.isInteger(mergeCount) || mergeCount < 0)
    throw new InputError(`forge tokenizer: merges must be a non-negative integer, got ${mergeCount}`);
  if (options.variant !== 'sd15' && options.variant !== 'sd21')
    throw new InputError(`forge tokenizer: variant must be 'sd15' or 'sd21', got ${JSON.stringify(options.variant)}`);

  const { symbolOfByte, vocabOrder } = byteSymbolTables();
  const base = [...vocabOrder, ...vocabOrder.map((s) => s + END_OF_WORD)];
  const merges = learnMerges(corpusWords(symbolOfByte, options.extraCorpus ?? []), new Set(base), mergeCount);
  const tokens = [...base, ...merges.map(([l, r]) => l + r), START_OF_TEXT, END_OF_TEXT];

  const pad = options.variant === 'sd15' ? END_OF_TEXT : '!';
  const config = {
    add_prefix_space: false,
    bos_token: addedToken(START_OF_TEXT, true),
    do_lower_case: true,
    eos_token: addedToken(END_OF_TEXT, true),
    errors: 'replace',
    model_max_length: 77,
    name_or_path: `lethe-forge/clip-tokenizer-${options.variant}`,
    pad_token: pad,
    special_tokens_map_file: './special_tokens_map.json',
    tokenizer_class: 'CLIPTokenizer',
    unk_token: addedToken(END_OF_TEXT, true),
  };
  const specialMap = {
    bos_token: addedToken(START_OF_TEXT, false),
    eos_token: addedToken(END_OF_TEXT, false),
    pad_token: pad,
    unk_token: addedToken(END_OF_TEXT, false),
  };
  return {
    vocabJson: vocabFileText(tokens),
    mergesTxt: `#version: 0.2\n${merges.map(([l, r]) => `${l} ${r}\n`).join('')}`,
    tokenizerConfigJson: `${JSON.stringify(config, null, 2)}\n`,
    specialTokensMapJson: `${JSON.stringify(specialMap, null, 2)}\n`,
    vocabSize: tokens.length,
  };
}
