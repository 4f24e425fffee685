import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { DEFAULT_FORGED_MERGES, forgeClipTokenizerFiles, type ForgedClipTokenizerFiles } from '../../src/model/forge/tokenizer-files.ts';
import { loadClipTokenizer } from '../../src/pipeline/tokenizer/clip-tokenizer.ts';
import { InputError } from '../../src/util/errors.ts';
import { bytesToUnicode, ClipBpeReference } from '../support/clip-bpe-reference.ts';

function filesHash(files: ForgedClipTokenizerFiles): string {
  const hash = createHash('sha256');
  for (const part of [files.vocabJson, files.mergesTxt, files.tokenizerConfigJson, files.specialTokensMapJson]) hash.update(part).update('\0');
  return hash.digest('hex');
}

const forged = new Map<string, ForgedClipTokenizerFiles>();
/** Forging takes tens of milliseconds; tests that only read the files share one forging. */
function forge(variant: 'sd15' | 'sd21', merges?: number): ForgedClipTokenizerFiles {
  const key = `${variant}/${merges}`;
  if (!forged.has(key)) forged.set(key, forgeClipTokenizerFiles({ variant, merges }));
  return forged.get(key)!;
}

function mergeLines(files: ForgedClipTokenizerFiles): string[] {
  return files.mergesTxt.split('\n').slice(1, -1);
}

describe('forged CLIP tokenizer files', () => {
  test('the same options give the same bytes', () => {
    for (const variant of ['sd15', 'sd21'] as const) {
      expect(filesHash(forgeClipTokenizerFiles({ variant }))).toBe(filesHash(forge(variant)));
    }
    // Pinned: forged packs record these files' sha256 in their manifests, so a change here
    // must be deliberate.
    expect(filesHash(forge('sd15'))).toBe('178db3014ab5bcc4cee9387fcfe1799d920a1479bcca09fcee6094d01355f61a');
    expect(filesHash(forge('sd21'))).toBe('a2369f3c95d3c979a9b3caedfeeb0cc9ac5e3d815a95e7c572e3d3a98caacea9');
  });

  test.each([[undefined], [0], [50], [533]])('vocabulary laid out as CLIP\'s (merges: %s)', (merges) => {
    const files = forge('sd15', merges);
    const count = merges ?? DEFAULT_FORGED_MERGES;
    expect(files.vocabSize).toBe(514 + count);
    const vocab = JSON.parse(files.vocabJson) as Record<string, number>;
    const byId = new Map(Object.entries(vocab).map(([token, id]) => [id, token]));
    expect(Object.keys(vocab)).toHaveLength(files.vocabSize);
    expect([...byId.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: files.vocabSize }, (_, i) => i));

    // ids 0..511: byte symbols in bytes_to_unicode order, then the same with </w>
    const symbols = [...bytesToUnicode().values()];
    symbols.forEach((symbol, i) => {
      expect(byId.get(i)).toBe(symbol);
      expect(byId.get(256 + i)).toBe(symbol + '</w>');
    });
    // ids the real 49408-token CLIP vocabulary shares
    expect([vocab['!'], vocab['a'], vocab['a</w>'], vocab['!</w>']]).toEqual([0, 64, 320, 256]);

    const lines = mergeLines(files);
    expect(files.mergesTxt.split('\n')[0]).toBe('#version: 0.2');
    expect(files.mergesTxt.endsWith('\n')).toBe(true);
    expect(lines).toHaveLength(count);
    lines.forEach((line, rank) => {
      const [left, right, extra] = line.split(' ');
      expect(extra).toBeUndefined();
      expect(vocab[left]).toBeLessThan(512 + rank);
      expect(vocab[right]).toBeLessThan(512 + rank);
      expect(byId.get(512 + rank)).toBe(left + right);
    });
    expect(vocab['<|startoftext|>']).toBe(files.vocabSize - 2);
    expect(vocab['<|endoftext|>']).toBe(files.vocabSize - 1);

    const tokenizer = loadClipTokenizer(files);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.vocabSize]).toEqual([files.vocabSize - 2, files.vocabSize - 1, files.vocabSize]);
  });

  test('merges are learned from the corpus: common prompt words become single tokens', () => {
    const files = forge('sd15');
    const tokenizer = loadClipTokenizer(files);
    for (const word of ['photo', 'painting', 'cat', 'dog', 'airplane', 'automobile', 'van', 'gogh', 'style', 'truck']) {
      expect(tokenizer.tokens(word), word).toEqual(['<|startoftext|>', `${word}</w>`, '<|endoftext|>']);
    }
    // Frequent pairs first: the earliest merges are among the corpus' most common pairs.
    const first = mergeLines(files).slice(0, 3);
    expect(first).toEqual(expect.arrayContaining(['i n', 'o f</w>']));
    // A word outside the corpus still splits into known pieces, some of them single bytes.
    const pieces = tokenizer.tokens('xylophonic').slice(1, -1);
    expect(pieces.join('').replace('</w>', '')).toBe('xylophonic');
    expect(pieces.some((p) => p.replace('</w>', '').length === 1)).toBe(true);
  });

  test('both variants tokenize identically and differ only in the pad token', () => {
    const sd15 = forge('sd15');
    const sd21 = forge('sd21');
    expect(sd21.vocabJson).toBe(sd15.vocabJson);
    expect(sd21.mergesTxt).toBe(sd15.mergesTxt);
    const config15 = JSON.parse(sd15.tokenizerConfigJson) as Record<string, unknown>;
    const config21 = JSON.parse(sd21.tokenizerConfigJson) as Record<string, unknown>;
    expect(config15.pad_token).toBe('<|endoftext|>');
    expect(config21.pad_token).toBe('!');
    expect(JSON.parse(sd15.specialTokensMapJson).pad_token).toBe('<|endoftext|>');
    expect(JSON.parse(sd21.specialTokensMapJson).pad_token).toBe('!');
    const text = 'a painting of a horse, in the style of claude monet!';
    const a = loadClipTokenizer(sd15).tokenize(text);
    const b = loadClipTokenizer(sd21).tokenize(text);
    expect(Array.from(a.ids.slice(0, a.eosIndex + 1))).toEqual(Array.from(b.ids.slice(0, b.eosIndex + 1)));
    expect(a.ids[a.eosIndex + 1]).toBe(sd15.vocabSize - 1);
    expect(b.ids[b.eosIndex + 1]).toBe(0);
  });

  test('config files have the shape of SD 1.5\'s tokenizer folder', () => {
    const files = forge('sd15');
    const config = JSON.parse(files.tokenizerConfigJson) as Record<string, unknown>;
    expect(Object.keys(config)).toEqual([
      'add_prefix_space', 'bos_token', 'do_lower_case', 'eos_token', 'errors', 'model_max_length',
      'name_or_path', 'pad_token', 'special_tokens_map_file', 'tokenizer_class', 'unk_token',
    ]);
    expect(config).toMatchObject({
      add_prefix_space: false,
      do_lower_case: true,
      errors: 'replace',
      model_max_length: 77,
      tokenizer_class: 'CLIPTokenizer',
      bos_token: { __type: 'AddedToken', content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
      eos_token: { __type: 'AddedToken', content: '<|endoftext|>' },
      unk_token: { __type: 'AddedToken', content: '<|endoftext|>' },
    });
    const map = JSON.parse(files.specialTokensMapJson) as Record<string, Record<string, unknown>>;
    expect(Object.keys(map)).toEqual(['bos_token', 'eos_token', 'pad_token', 'unk_token']);
    expect(map.bos_token).toEqual({ content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false });
    // vocab.json as transformers saves it: indent 2, keys sorted by code point
    const keys = [...files.vocabJson.matchAll(/^ {2}("(?:[^"\\]|\\.)*"): \d+,?$/gm)].map((m) => JSON.parse(m[1]) as string);
    expect(keys).toHaveLength(files.vocabSize);
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  test('the tokenizer and the reference BPE agree on forged files', () => {
    for (const merges of [DEFAULT_FORGED_MERGES, 120]) {
      const files = forge('sd21', merges);
      const tokenizer = loadClipTokenizer(files);
      const reference = new ClipBpeReference(files);
      for (const text of ['a photo of a cat', 'the starry night by vincent van gogh!!', "it's a golden retriever's toy", 'gas pump, golf ball, french horn', 'Ünïcödé 🎨 绘画']) {
        expect(Array.from(tokenizer.encode(text)), text).toEqual(Array.from(reference.encode(text)));
      }
    }
  });

  test('bad options are refused', () => {
    expect(() => forgeClipTokenizerFiles({ variant: 'sd15', merges: 100000 })).toThrow(/supports only 533 merges, 100000 were asked for/);
    expect(() => forgeClipTokenizerFiles({ variant: 'sd15', merges: -1 })).toThrow(InputError);
    expect(() => forgeClipTokenizerFiles({ variant: 'sd15', merges: 2.5 })).toThrow(InputError);
    expect(() => forgeClipTokenizerFiles({ variant: 'sdxl' as 'sd15' })).toThrow(/variant must be 'sd15' or 'sd21'/);
  });
});
