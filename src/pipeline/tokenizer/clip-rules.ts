/**
 * The fixed parts of CLIP's text tokenization, shared by every Stable Diffusion 1.x/2.x
 * tokenizer: what the vocabulary files do not say.
 */

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

/** Appended to the last symbol of every word before BPE; merges and vocab entries carry it. */
export const END_OF_WORD = '</w>';

/** CLIP's text context: bos, 75 prompt tokens, eos. */
export const CLIP_CONTEXT_LENGTH = 77;

/**
 * CLIP's word split, as its tokenizer.json writes it (Oniguruma syntax: `\s` means Unicode
 * White_Space). Special-token text first, English contractions, letter runs, single digits,
 * runs of everything else; whitespace only separates.
 */
export const CLIP_SPLIT_PATTERN =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** Whitespace runs, collapsed to one space before splitting. */
export const CLIP_WHITESPACE_PATTERN = '\\s+';
