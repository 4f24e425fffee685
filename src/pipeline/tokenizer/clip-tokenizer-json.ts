/**
 * The tokenizer.json that Stable Diffusion repos do not ship, rebuilt in memory from
 * vocab.json + merges.txt: the same normalizer, pre-tokenizer, BPE model, post-processor and
 * decoder as the tokenizer.json of openai/clip-vit-large-patch14.
 */
import { CLIP_SPLIT_PATTERN, CLIP_WHITESPACE_PATTERN, END_OF_WORD } from './clip-rules.ts';
import type { ClipVocabulary } from './clip-tokenizer-files.ts';

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type Pattern = { Regex: string };

/** The subset of the tokenizers JSON schema a CLIP tokenizer uses. */
export interface ClipTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: {
    type: 'Sequence';
    normalizers: ({ type: 'NFC' } | { type: 'Replace'; pattern: Pattern; content: string } | { type: 'Lowercase' })[];
  };
  pre_tokenizer: {
    type: 'Sequence';
    pretokenizers: (
      | { type: 'Split'; pattern: Pattern; behavior: 'Removed'; invert: true }
      | { type: 'ByteLevel'; add_prefix_space: false; trim_offsets: true; use_regex: false }
    )[];
  };
  post_processor: {
    type: 'RobertaProcessing';
    sep: [string, number];
    cls: [string, number];
    trim_offsets: false;
    add_prefix_space: false;
  };
  decoder: { type: 'ByteLevel'; add_prefix_space: true; trim_offsets: true; use_regex: true };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string;
    continuing_subword_prefix: string;
    end_of_word_suffix: string;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Readonly<Record<string, number>>;
    merges: (readonly [string, string])[];
  };
}

export function buildClipTokenizerJson(vocabulary: ClipVocabulary): ClipTokenizerJson {
  const { vocab, specialTokens } = vocabulary;
  const idOf = (token: string): number => vocab[token];
  // Only bos and eos are matched as whole tokens inside prompt text, as in CLIP's own
  // tokenizer.json. SD 2.x's pad token "!" stays an ordinary symbol: a prompt's "!!" is
  // tokenized by BPE, as CLIP's reference tokenizer (and OpenCLIP, which SD 2.x trained with)
  // does; "!" is used only to fill the padding.
  const specials = [...new Set([specialTokens.bos, specialTokens.eos])];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: idOf(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: CLIP_WHITESPACE_PATTERN }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [specialTokens.eos, idOf(specialTokens.eos)],
      cls: [specialTokens.bos, idOf(specialTokens.bos)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: specialTokens.unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: END_OF_WORD,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [...vocabulary.merges],
    },
  };
}
