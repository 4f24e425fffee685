import { describe, expect, test } from 'vitest';
import { CLIPTokenizer } from '@huggingface/transformers';
import { forgeClipTokenizerFiles } from '../../src/model/forge/tokenizer-files.ts';
import { displayToken, loadClipTokenizer } from '../../src/pipeline/tokenizer/clip-tokenizer.ts';
import { buildClipTokenizerJson } from '../../src/pipeline/tokenizer/clip-tokenizer-json.ts';
import { parseClipTokenizerFiles, type ClipTokenizerFiles } from '../../src/pipeline/tokenizer/clip-tokenizer-files.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { bytesToUnicode, ClipBpeReference } from '../support/clip-bpe-reference.ts';

const sd15 = forgeClipTokenizerFiles({ variant: 'sd15' });
const sd21 = forgeClipTokenizerFiles({ variant: 'sd21' });

const HAND_PICKED = [
  'a photo of a cat',
  'A Painting in the style of Van Gogh',
  'airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck',
  "it's a dog's life, don't you think? we're here, i've been, i'm, you'll, she'd",
  "IT'S LOUD! DON'T",
  "rock'n'roll 'quoted' ''",
  'hello!!! ??? ... --- !?!',
  'numbers: 2024, 3.14159, 1st 2nd 10k 8K',
  'café naïve résumé Ångström',
  'cafe\u0301 (decomposed accent)',
  'emoji 🙂🐱‍👤 👍🏽 ❤️',
  '東京タワーの写真',
  '한국어 텍스트',
  'Ελληνικά ΟΔΟΣ',
  'русский текст',
  'हिन्दी पाठ',
  'mixed123abc abc123 a1b2c3',
  '   leading and trailing spaces   ',
  'multiple     spaces\tand\ttabs\nand\r\nnewlines',
  'non\u00a0breaking\u3000ideographic\u2003em space\u0085nel',
  'zero\u200bwidth\ufeffbom',
  'xylophone quizzical zyzzyva qwxz',
  '',
  ' ',
  '<|startoftext|>a cat<|endoftext|>',
  'glued<|endoftext|>text and !!<|endoftext|>!!',
  '<|STARTOFTEXT|> upper-case special text',
  'x',
  '!',
  "'",
  'https://example.com/path?q=1&x=y#frag',
  'C++ and C# and F#; e=mc^2; {json: [1, 2]}',
  'underscores_and-dashes/and\\backslashes',
];

/** Random prompts from fragments covering every branch of the split regex and of the clean-up. */
function randomPrompts(count: number, seed: number): string[] {
  const fragments = [
    'cat', 'dog', 'photo', 'painting', 'van', 'gogh', 'airplane', 'truck', 'of', 'a', 'the', 'style',
    'Xylophone', 'QUIZ', 'impressionism', 'ship', 'horse', "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    "'x", '!', '!!', '?', ',', '.', '...', '-', '(', ')', '"', '#', '@', '&', '0', '7', '42', '1999',
    'é', 'ñ', 'ü', 'ß', 'ø', 'e\u0301', '🙂', '🐈', '👍🏽', '東', '京', '猫', 'ね', 'こ', '한', 'ж', 'Ω', 'ς',
    ' ', '  ', '\t', '\n', '\u00a0', '\u3000', '\u200b', '\ufeff', '<|endoftext|>', '<|startoftext|>', '|', '<', '>',
  ];
  const random = new SeededRandom(seed);
  const prompts: string[] = [];
  for (let p = 0; p < count; p++) {
    const length = 1 + Math.floor(random.uniform() * 30);
    let text = '';
    for (let i = 0; i < length; i++) {
      text += fragments[Math.floor(random.uniform() * fragments.length)];
      if (random.uniform() < 0.5) text += ' ';
    }
    prompts.push(text);
  }
  return prompts;
}

const LONG = Array.from({ length: 60 }, (_, i) => `a photo of cat number ${i}`).join(', ');

describe('CLIP tokenizer (transformers.js BPE) matches the reference BPE', () => {
  for (const [variant, files] of [['sd15', sd15], ['sd21', sd21]] as const) {
    test(`${variant}: hand-picked prompts give the same ids and pieces`, () => {
      const tokenizer = loadClipTokenizer(files);
      const reference = new ClipBpeReference(files);
      for (const text of [...HAND_PICKED, LONG]) {
        expect(Array.from(tokenizer.encode(text)), JSON.stringify(text)).toEqual(Array.from(reference.encode(text)));
        const pieces = reference.pieces(text).slice(0, 75);
        expect(tokenizer.tokens(text), JSON.stringify(text)).toEqual(['<|startoftext|>', ...pieces, '<|endoftext|>']);
      }
    });
  }

  test('500 random prompts give the same ids', () => {
    const tokenizer = loadClipTokenizer(sd15);
    const reference = new ClipBpeReference(sd15);
    for (const text of randomPrompts(500, 7)) {
      expect(Array.from(tokenizer.encode(text)), JSON.stringify(text)).toEqual(Array.from(reference.encode(text)));
    }
  });

  test('a vocabulary with few merges (mostly byte pieces) agrees too', () => {
    const files = forgeClipTokenizerFiles({ variant: 'sd15', merges: 20 });
    const tokenizer = loadClipTokenizer(files);
    const reference = new ClipBpeReference(files);
    for (const text of [...HAND_PICKED, ...randomPrompts(100, 11)]) {
      expect(Array.from(tokenizer.encode(text)), JSON.stringify(text)).toEqual(Array.from(reference.encode(text)));
    }
  });

  test('transformers.js CLIPTokenizer on the in-memory tokenizer.json pads to the same ids', () => {
    const vocabulary = parseClipTokenizerFiles(sd15);
    const config = { model_max_length: 77, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>' };
    const transformers = new CLIPTokenizer(buildClipTokenizerJson(vocabulary), config);
    const ours = loadClipTokenizer(sd15);
    for (const text of [...HAND_PICKED, ...randomPrompts(50, 3)]) {
      if (ours.tokenize(text).truncated) continue; // transformers.js truncation cuts off eos; ours keeps it
      const encoded = transformers(text, { padding: 'max_length', max_length: 77, truncation: true, return_tensor: false });
      expect(encoded.input_ids, JSON.stringify(text)).toEqual(Array.from(ours.encode(text)));
    }
  });
});

/**
 * A vocabulary small enough to derive by hand: the 512 byte pieces, 7 merges, bos, eos.
 * Byte pieces in CLIP's order: "!"..."~" are ids 0..93, so "a" = 64, "a</w>" = 320 and
 * "!</w>" = 256, as in the real 49408-token vocabulary.
 */
function handVocabFiles(pad: string): ClipTokenizerFiles {
  const base = [...bytesToUnicode().values()];
  const merges = ['h e', 'l l', 'he ll', 'hell o</w>', 'c a', 'ca t</w>', 'Ã ©</w>'];
  const tokens = [...base, ...base.map((s) => s + '</w>'), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'];
  return {
    vocabJson: JSON.stringify(Object.fromEntries(tokens.map((t, i) => [t, i]))),
    mergesTxt: `#version: 0.2\n${merges.join('\n')}\n`,
    tokenizerConfigJson: JSON.stringify({ model_max_length: 77, pad_token: pad, tokenizer_class: 'CLIPTokenizer' }),
  };
}

describe('hand-derived tokenizations', () => {
  const tokenizer = loadClipTokenizer(handVocabFiles('<|endoftext|>'));
  const BOS = 519;
  const EOS = 520;

  test('merges apply by rank until none applies', () => {
    // hello: h e l l o</w> -> he l l o</w> -> he ll o</w> -> hell o</w> -> hello</w> (512 + 3)
    // ",</w>": 256 + 11; cat: c a t</w> -> ca t</w> -> cat</w> (512 + 5); "!</w>": 256
    expect(Array.from(tokenizer.encode('Hello,   CAT!').slice(0, 7))).toEqual([BOS, 515, 267, 517, 256, EOS, EOS]);
    // hell: he l l</w>: "l l</w>" is not the merge "l l"
    expect(tokenizer.tokens('hell')).toEqual(['<|startoftext|>', 'he', 'l', 'l</w>', '<|endoftext|>']);
    expect(Array.from(tokenizer.encode('hell').slice(0, 5))).toEqual([BOS, 512, 75, 331, EOS]);
  });

  test('multi-byte characters are byte pieces unless a merge joins them', () => {
    // café: c a f Ã ©</w> -> ca f Ã ©</w> -> ca f Ã©</w>
    expect(tokenizer.tokens('CAFÉ')).toEqual(['<|startoftext|>', 'ca', 'f', 'Ã©</w>', '<|endoftext|>']);
    expect(Array.from(tokenizer.encode('CAFÉ').slice(0, 5))).toEqual([BOS, 516, 69, 518, EOS]);
    // 🙂 = F0 9F 99 82: F0 is the 173rd printable byte (id 172); 9F, 99, 82 are borrowed
    // symbols at 221 + (byte - 127); the last carries </w> (+256).
    expect(Array.from(tokenizer.encode('🙂').slice(0, 6))).toEqual([BOS, 172, 253, 247, 256 + 224, EOS]);
    expect(tokenizer.tokens('café 🙂').map(displayToken)).toEqual(['<|startoftext|>', 'ca', 'f', 'é', '\ufffd', '\ufffd', '\ufffd', '\ufffd', '<|endoftext|>']);
  });

  test('digits are one word each and apostrophe suffixes split off', () => {
    // "12" -> 1</w> 2</w>; "it's" -> it | 's -> i t</w> ' s</w>
    expect(tokenizer.tokens("12 it's")).toEqual(['<|startoftext|>', '1</w>', '2</w>', 'i', 't</w>', "'", 's</w>', '<|endoftext|>']);
  });
});

describe('length, padding, truncation', () => {
  const tokenizer = loadClipTokenizer(sd15);
  const reference = new ClipBpeReference(sd15);
  const bos = sd15.vocabSize - 2;
  const eos = sd15.vocabSize - 1;

  test('empty and whitespace-only prompts are bos, eos, padding', () => {
    for (const text of ['', '   ', '\n\t ']) {
      const ids = tokenizer.encode(text);
      expect(ids.length).toBe(77);
      expect(ids[0]).toBe(bos);
      expect(Array.from(ids.slice(1))).toEqual(new Array(76).fill(eos));
      expect(tokenizer.eosIndex(text)).toBe(1);
    }
  });

  test('75 prompt tokens fit; 76 lose the last one and keep eos', () => {
    const word = 'cat'; // one token in the forged vocabulary
    expect(reference.pieces(word)).toHaveLength(1);
    const fits = tokenizer.tokenize(Array(75).fill(word).join(' '));
    expect(fits.truncated).toBe(false);
    expect(fits.eosIndex).toBe(76);
    expect(fits.ids[76]).toBe(eos);
    const over = tokenizer.tokenize(Array(75).fill(word).join(' ') + ' dog');
    expect(over.truncated).toBe(true);
    expect(Array.from(over.ids)).toEqual(Array.from(fits.ids));
  });

  test('a long prompt keeps bos, its first 75 tokens and eos', () => {
    const all = reference.pieces(LONG).map((p) => reference.id(p));
    expect(all.length).toBeGreaterThan(200);
    const got = tokenizer.tokenize(LONG);
    expect(got.truncated).toBe(true);
    expect(got.eosIndex).toBe(76);
    expect(Array.from(got.ids)).toEqual([bos, ...all.slice(0, 75), eos]);
    expect(got.tokens).toHaveLength(77);
  });

  test('sd21 pads with "!" (id 0) but a "!" in the prompt is still BPE-tokenized', () => {
    const sd21Tokenizer = loadClipTokenizer(sd21);
    expect(sd21Tokenizer.padId).toBe(0);
    expect(sd21Tokenizer.eosId).toBe(sd21.vocabSize - 1);
    const ids = sd21Tokenizer.encode('wow !');
    // bos wow... "!" at word end is "!</w>" = 256, not the pad id
    const eosAt = sd21Tokenizer.eosIndex('wow !');
    expect(ids[eosAt - 1]).toBe(256);
    expect(ids[eosAt]).toBe(sd21.vocabSize - 1);
    expect(Array.from(ids.slice(eosAt + 1))).toEqual(new Array(76 - eosAt).fill(0));
    expect(loadClipTokenizer(sd15).padId).toBe(eos);
  });

  test('encodeBatch stacks single encodings row by row', () => {
    const texts = ['a photo of a cat', '', LONG, 'van gogh'];
    const batch = tokenizer.encodeBatch(texts);
    expect(batch.count).toBe(4);
    expect(batch.ids.length).toBe(4 * 77);
    texts.forEach((text, i) => {
      expect(Array.from(batch.ids.subarray(i * 77, (i + 1) * 77))).toEqual(Array.from(tokenizer.encode(text)));
      expect(batch.eosIndices[i]).toBe(tokenizer.eosIndex(text));
      expect(batch.ids[i * 77 + batch.eosIndices[i]]).toBe(eos);
    });
    expect(batch.truncated).toEqual([false, false, true, false]);
  });

  test('tokens() lines up with encode() position by position', () => {
    const vocab = JSON.parse(sd15.vocabJson) as Record<string, number>;
    for (const text of [...HAND_PICKED, LONG]) {
      const { ids, tokens, eosIndex } = tokenizer.tokenize(text);
      expect(tokens.length).toBe(eosIndex + 1);
      tokens.forEach((piece, i) => expect(vocab[piece]).toBe(ids[i]));
    }
    expect(tokenizer.tokens('A photo of Van Gogh').map(displayToken)).toEqual(['<|startoftext|>', 'a', 'photo', 'of', 'van', 'gogh', '<|endoftext|>']);
  });

  test('building and encoding never touch the network', () => {
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => {
      throw new Error('network used');
    };
    try {
      expect(loadClipTokenizer(sd21).encode('a cat').length).toBe(77);
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});

describe('bad tokenizer files are rejected with the file and field', () => {
  const vocab = JSON.parse(sd15.vocabJson) as Record<string, number>;
  const withVocab = (edit: (v: Record<string, number>) => void): string => {
    const copy = { ...vocab };
    edit(copy);
    return JSON.stringify(copy);
  };
  const cases: [string, Partial<ClipTokenizerFiles>, string, RegExp][] = [
    ['vocab not JSON', { vocabJson: '{"a": 1,' }, 'vocab.json', /not valid JSON/],
    ['vocab is an array', { vocabJson: '["a"]' }, 'vocab.json', /expected a JSON object, got an array/],
    ['fractional id', { vocabJson: withVocab((v) => (v['cat</w>'] = 1.5)) }, 'vocab.json', /non-negative 32-bit integer/],
    ['duplicate id', { vocabJson: withVocab((v) => (v['cat</w>'] = 0)) }, 'vocab.json', /id 0 is also the id of "!"/],
    ['missing byte symbol', { vocabJson: withVocab((v) => delete v['Ā</w>']) }, 'vocab.json', /byte-level symbol missing/],
    ['merge line with three parts', { mergesTxt: '#version: 0.2\nc a t\n' }, 'merges.txt', /line 2: expected two symbols/],
    ['merge result not in vocab', { mergesTxt: '#version: 0.2\nq z\n' }, 'merges.txt', /"qz" \(from merge "q z"\) is not in vocab.json/],
    ['duplicate merge', { mergesTxt: '#version: 0.2\ni n\ni n\n' }, 'merges.txt', /listed twice/],
    ['pad token not in vocab', { specialTokensMapJson: '{"pad_token": "<pad>"}' }, 'vocab.json', /pad_token: special token "<pad>"/],
    ['bad token field', { tokenizerConfigJson: '{"bos_token": 5}' }, 'tokenizer_config.json', /bos_token: expected a token string/],
    ['no-limit max length', { tokenizerConfigJson: '{"model_max_length": 1e30}' }, 'tokenizer_config.json', /model_max_length/],
    ['GPT-2 tokenizer', { tokenizerConfigJson: '{"tokenizer_class": "GPT2Tokenizer"}' }, 'tokenizer_config.json', /tokenizer_class: expected CLIPTokenizer/],
  ];
  test.each(cases)('%s', (_name, edit, file, message) => {
    const files = { ...sd15, ...edit };
    let error: unknown;
    try {
      loadClipTokenizer(files);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).file).toBe(file);
    expect((error as FormatError).message).toMatch(message);
  });

  test('special_tokens_map.json overrides tokenizer_config.json, as in transformers', () => {
    const files = { ...sd15, specialTokensMapJson: '{"pad_token": "!"}' };
    expect(loadClipTokenizer(files).padId).toBe(0);
    const noMap = { ...sd21, specialTokensMapJson: undefined };
    expect(loadClipTokenizer(noMap).padId).toBe(0);
    const defaults = loadClipTokenizer({ ...sd15, tokenizerConfigJson: '{}', specialTokensMapJson: undefined });
    expect([defaults.bosId, defaults.eosId, defaults.padId, defaults.maxLength]).toEqual([sd15.vocabSize - 2, sd15.vocabSize - 1, sd15.vocabSize - 1, 77]);
  });
});
