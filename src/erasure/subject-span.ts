/**
 * Where a prompt's subject sits in the token sequence. A TemplatedPrompt knows the subject's
 * character range; the text encoder's rows are tokens. The span is found by tokenizing the
 * text before the subject and the text through it: CLIP's tokenizer frames every text as
 * BOS, tokens, EOS, so eosIndex(prefix) = 1 + (tokens in prefix), i.e. the index the next token
 * takes in the full prompt (the +1 is BOS at row 0):
 *
 *   start = eosIndex(text[0, subject.start)),  end = eosIndex(text[0, subject.end)).
 *
 * Edge cases:
 * - Empty subject (the anchor "" in "a photo of {}" gives "a photo of"): start = end = the index
 *   after the last prefix token, so the span is empty and token selection focuses on the token
 *   before it ("of"); for the bare template "{}" the text is "" and the focus is BOS (row 0).
 * - This only holds when the subject begins and ends at token boundaries. A template such as
 *   "{}s" glues the subject to the next letters ("dogs" is one BPE word); the through-subject
 *   tokens then differ from the full prompt's, which is an InputError naming the template.
 * - Prompts longer than the encoder's context are cut by the tokenizer. The tail after the
 *   subject may be cut; a subject reaching past the last readable token is an InputError.
 */
import { InputError } from '../util/errors.ts';
import type { TemplatedPrompt } from './prompt-templates.ts';
import type { TokenSpan } from './token-selection.ts';

/** What the builder needs from a tokenizer: padded ids and the first EOS position. */
export interface PromptTokens {
  readonly ids: Int32Array;
  readonly eosIndex: number;
  /** Whether the text lost its tail to the context length (ClipTokenizer reports it). */
  readonly truncated?: boolean;
}

export type TokenizeText = (text: string) => PromptTokens;

export interface SubjectTokens {
  /** [start, end) token rows of the subject; start === end for an empty subject. */
  readonly subject: TokenSpan;
  /** The full prompt's EOS row. */
  readonly eosIndex: number;
}

/**
 * The subject's token span in `prompt.text`. `tokens` is the context length (77): a tokenizer
 * that does not say `truncated` is taken to have cut any text whose EOS lands on the last row.
 */
export function subjectTokenSpan(prompt: TemplatedPrompt, tokenize: TokenizeText, tokens: number): SubjectTokens {
  const { text, subject, template, concept } = prompt;
  const where = `prompt ${JSON.stringify(text)} (template ${JSON.stringify(template)})`;
  const full = tokenizeChecked(tokenize, text, tokens, where);
  const before = tokenizeChecked(tokenize, text.slice(0, subject.start), tokens, where);
  const through = subject.end === subject.start ? before : tokenizeChecked(tokenize, text.slice(0, subject.end), tokens, where);
  if (isTruncated(through, tokens))
    throw new InputError(
      `${where}: the subject ${JSON.stringify(concept)} lies beyond the ${tokens - 2} tokens the text encoder reads; use a shorter concept or template`,
    );
  const start = before.eosIndex;
  const end = through.eosIndex;
  // The pieces before the subject and through it must be exactly the full prompt's first pieces.
  if (!sameTokens(before, full, start) || !sameTokens(through, full, end) || end > full.eosIndex)
    throw new InputError(
      `${where}: the subject ${JSON.stringify(concept)} does not begin and end at token boundaries ` +
        `(its text merges with the characters around it); separate "{}" from neighbouring letters in the template`,
    );
  return { subject: { start, end }, eosIndex: full.eosIndex };
}

function tokenizeChecked(tokenize: TokenizeText, text: string, tokens: number, where: string): PromptTokens {
  const result = tokenize(text);
  if (!(result.ids instanceof Int32Array) || result.ids.length !== tokens)
    throw new InputError(`${where}: the tokenizer returned ${result.ids?.length} ids for ${JSON.stringify(text)}, expected ${tokens} (the encoder's context)`);
  if (!Number.isInteger(result.eosIndex) || result.eosIndex < 1 || result.eosIndex >= tokens)
    throw new InputError(`${where}: the tokenizer put EOS at ${result.eosIndex} for ${JSON.stringify(text)}, expected an index in [1, ${tokens - 1}]`);
  return result;
}

function isTruncated(result: PromptTokens, tokens: number): boolean {
  return result.truncated ?? result.eosIndex >= tokens - 1;
}

/** Rows 0..end-1 (BOS and the pieces before `end`) agree. */
function sameTokens(part: PromptTokens, full: PromptTokens, end: number): boolean {
  for (let i = 0; i < end; i++) if (part.ids[i] !== full.ids[i]) return false;
  return true;
}
