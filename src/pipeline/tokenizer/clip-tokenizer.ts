/**
 * CLIP prompt tokenizer for Stable Diffusion 1.x/2.x text encoders.
 *
 * The BPE itself is transformers.js's: its tokenizers engine (`@huggingface/tokenizers`, the
 * `Tokenizer` that transformers.js's CLIPTokenizer wraps) is given a tokenizer.json rebuilt in
 * memory from the repo's vocab.json and merges.txt. Nothing is fetched and no hub code runs.
 * We import the engine rather than `@huggingface/transformers` itself because importing
 * transformers.js configures the shared onnxruntime-web instance as a side effect (it points
 * wasmPaths at a CDN) and pulls a 1 MB bundle into the worker.
 *
 * Lengths follow diffusers: bos, at most maxLength - 2 prompt tokens, eos, then the pad token
 * (eos for SD 1.x, "!" for SD 2.x) up to maxLength.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../util/errors.ts';
import { byteSymbolsToBytes } from './byte-symbols.ts';
import { END_OF_WORD } from './clip-rules.ts';
import { buildClipTokenizerJson } from './clip-tokenizer-json.ts';
import { parseClipTokenizerFiles, type ClipSpecialTokens, type ClipTokenizerFiles } from './clip-tokenizer-files.ts';

/** Prompts encoded together: row i of `ids` is prompt i. */
export interface ClipTokenBatch {
  /** [count, maxLength] row-major token ids. */
  ids: Int32Array;
  count: number;
  maxLength: number;
  /** Position of each prompt's eos: its last real token, where pooled CLIP features are read. */
  eosIndices: Int32Array;
  /** Whether the prompt had more than maxLength - 2 tokens and lost its tail. */
  truncated: boolean[];
}

/** One prompt: ids plus the token pieces they stand for, position by position. */
export interface ClipTokenization {
  /** maxLength ids: bos, prompt tokens, eos, padding. */
  ids: Int32Array;
  /** Vocabulary pieces of the real tokens (bos ... eos), same positions as `ids`; no padding. */
  tokens: string[];
  eosIndex: number;
  truncated: boolean;
}

export class ClipTokenizer {
  readonly maxLength: number;
  readonly vocabSize: number;
  readonly specialTokens: Readonly<ClipSpecialTokens>;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly engine: Tokenizer;

  constructor(files: ClipTokenizerFiles) {
    const vocabulary = parseClipTokenizerFiles(files);
    const { bos, eos, unk, pad } = vocabulary.specialTokens;
    this.maxLength = vocabulary.maxLength;
    this.vocabSize = vocabulary.vocabSize;
    this.specialTokens = vocabulary.specialTokens;
    this.bosId = vocabulary.vocab[bos];
    this.eosId = vocabulary.vocab[eos];
    this.padId = vocabulary.vocab[pad];
    this.engine = new Tokenizer(buildClipTokenizerJson(vocabulary), {
      tokenizer_class: 'CLIPTokenizer',
      model_max_length: vocabulary.maxLength,
      bos_token: bos,
      eos_token: eos,
      unk_token: unk,
      pad_token: pad,
    });
  }

  /** maxLength ids for one prompt. */
  encode(text: string): Int32Array {
    return this.tokenize(text).ids;
  }

  /** Ids, pieces, eos position and truncation of one prompt. */
  tokenize(text: string): ClipTokenization {
    if (typeof text !== 'string') throw new InputError(`tokenizer: a prompt must be a string, got ${typeof text}`);
    const encoding = this.engine.encode(text, { add_special_tokens: true });
    let ids = encoding.ids;
    let tokens = encoding.tokens;
    if (ids.length < 2 || ids[0] !== this.bosId || ids[ids.length - 1] !== this.eosId)
      throw new Error(`tokenizer: the BPE engine did not frame ${JSON.stringify(text)} with bos/eos`);
    const truncated = ids.length > this.maxLength;
    if (truncated) {
      // Keep bos and the first maxLength - 2 prompt tokens; the closing eos must survive.
      ids = [...ids.slice(0, this.maxLength - 1), this.eosId];
      tokens = [...tokens.slice(0, this.maxLength - 1), this.specialTokens.eos];
    }
    const out = new Int32Array(this.maxLength).fill(this.padId);
    out.set(ids);
    return { ids: out, tokens, eosIndex: ids.length - 1, truncated };
  }

  encodeBatch(texts: readonly string[]): ClipTokenBatch {
    const ids = new Int32Array(texts.length * this.maxLength);
    const eosIndices = new Int32Array(texts.length);
    const truncated: boolean[] = [];
    texts.forEach((text, i) => {
      const one = this.tokenize(text);
      ids.set(one.ids, i * this.maxLength);
      eosIndices[i] = one.eosIndex;
      truncated.push(one.truncated);
    });
    return { ids, count: texts.length, maxLength: this.maxLength, eosIndices, truncated };
  }

  /**
   * Vocabulary pieces of the prompt's real tokens, bos and eos included, at the positions
   * `encode` puts their ids (so index i names the text-encoder row i). Pieces are written in
   * byte symbols with `</w>` ends; `displayToken` makes them readable.
   */
  tokens(text: string): string[] {
    return this.tokenize(text).tokens;
  }

  /** Position of the eos token (the last real token) in `encode(text)`. */
  eosIndex(text: string): number {
    return this.tokenize(text).eosIndex;
  }
}

/** Builds a tokenizer from a Stable Diffusion `tokenizer/` folder's files. */
export function loadClipTokenizer(files: ClipTokenizerFiles): ClipTokenizer {
  return new ClipTokenizer(files);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A piece as a person reads it: bytes decoded as UTF-8 (a piece holding part of a character
 * shows U+FFFD), the `</w>` word end dropped. Special tokens come back unchanged.
 */
export function displayToken(piece: string): string {
  const word = piece.endsWith(END_OF_WORD) ? piece.slice(0, -END_OF_WORD.length) : piece;
  const bytes = byteSymbolsToBytes(word);
  return bytes === null ? piece : utf8.decode(bytes);
}
