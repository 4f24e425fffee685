/**
 * A deterministic stand-in for the CLIP text encoder: row t of a prompt's embedding is
 *   0.8 table[id_t] + 0.6 mean(table[id_0..t]),
 * with `table` a seeded N(0, 1) vocabulary x width table. It is causal like CLIP, so prompts
 * that share a prefix share those rows and every later row (EOS, padding) carries the whole
 * prompt. Entries have RMS ~0.9, like a layer-normed output.
 */
import { forgeClipTokenizerFiles } from '../../src/model/forge/tokenizer-files.ts';
import { loadClipTokenizer, type ClipTokenizer } from '../../src/pipeline/tokenizer/clip-tokenizer.ts';
import type { ErasureEncoder } from '../../src/erasure/problem-builder.ts';
import { SeededRandom } from '../../src/util/random.ts';

export interface FakeTextEncoder extends ErasureEncoder {
  readonly tokenizer: ClipTokenizer;
  readonly width: number;
  /** The prompts of every encode() call, in order. */
  readonly calls: string[][];
  /** One prompt's embedding (what encode returns for it). */
  embed(text: string): Float32Array;
}

let sharedTokenizer: ClipTokenizer | null = null;

export function forgedTokenizer(): ClipTokenizer {
  sharedTokenizer ??= loadClipTokenizer(forgeClipTokenizerFiles({ variant: 'sd15' }));
  return sharedTokenizer;
}

export function fakeTextEncoder(width: number, seed = 7): FakeTextEncoder {
  const tokenizer = forgedTokenizer();
  const table = new SeededRandom(seed).normalArray64(tokenizer.vocabSize * width);
  const calls: string[][] = [];
  const embed = (text: string): Float32Array => {
    const ids = tokenizer.encode(text);
    const out = new Float32Array(ids.length * width);
    const sum = new Float64Array(width);
    for (let t = 0; t < ids.length; t++) {
      const row = ids[t] * width;
      for (let j = 0; j < width; j++) {
        sum[j] += table[row + j];
        out[t * width + j] = 0.8 * table[row + j] + (0.6 * sum[j]) / (t + 1);
      }
    }
    return out;
  };
  return {
    tokenizer,
    width,
    calls,
    embed,
    async encode(prompts: string[]): Promise<Float32Array[]> {
      calls.push([...prompts]);
      return prompts.map(embed);
    },
    tokenize: (text: string) => tokenizer.tokenize(text),
  };
}

/** The row of `embedding` at `token`, as float64. */
export function tokenRow(embedding: Float32Array | Float64Array, token: number, width: number): Float64Array {
  return Float64Array.from(embedding.subarray(token * width, (token + 1) * width));
}
