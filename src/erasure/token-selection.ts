/**
 * Which token vectors of a prompt's embedding (tokens x d, 77 x 768 in SD 1.x) become
 * closed-form constraint vectors:
 *   'last'    the last subject token (UCE 2025);
 *   'subject' the subject tokens and every token after them up to and including eos
 *             (UCE 2023, RealEra: "the erasure concept token and its subsequent tokens");
 *   'all'     all tokens, padding included.
 *
 * A prompt whose subject is empty (the anchor "" or "a photo of ") has its subject span empty
 * at the slot; its focus is then the token just before the slot (BOS for ""), the token UCE
 * picks with attention_mask.sum() - 2.
 */
import { InputError } from '../util/errors.ts';

export type TokenSelectionMode = 'last' | 'subject' | 'all';
export const TOKEN_SELECTION_MODES: readonly TokenSelectionMode[] = ['last', 'subject', 'all'];

/** [start, end) token indices into the padded sequence (BOS is 0); start === end when empty. */
export interface TokenSpan {
  readonly start: number;
  readonly end: number;
}

export interface PromptEmbedding {
  /** tokens x width, row-major. */
  readonly values: Float32Array | Float64Array;
  /** Sequence length (77). */
  readonly tokens: number;
  readonly width: number;
  /** Index of the first eos token (= number of tokens with BOS, minus one). */
  readonly eosIndex: number;
  readonly subject: TokenSpan;
}

/** Indices of the selected tokens, ascending. */
export function selectTokenIndices(prompt: PromptEmbedding, mode: TokenSelectionMode, field = 'prompt'): number[] {
  checkPrompt(prompt, field);
  const focus = focusSpan(prompt);
  switch (mode) {
    case 'all':
      return range(0, prompt.tokens);
    case 'last':
      return [focus.end - 1];
    case 'subject':
      return range(focus.start, prompt.eosIndex + 1);
    default:
      throw new InputError(`token selection: mode: expected one of ${TOKEN_SELECTION_MODES.join(', ')}, got ${String(mode)}`);
  }
}

/** The selected token vectors (float64 copies). */
export function selectTokenVectors(prompt: PromptEmbedding, mode: TokenSelectionMode, field = 'prompt'): Float64Array[] {
  return selectTokenIndices(prompt, mode, field).map((index) => tokenVector(prompt, index));
}

/** Erase-token index -> anchor-token index, one entry per erase constraint. */
export interface TokenPairing {
  readonly eraseIndices: readonly number[];
  readonly anchorIndices: readonly number[];
}

/**
 * Pairs the erase prompt's selected tokens with anchor tokens:
 *   'all'     token i with token i;
 *   'last'    focus end with focus end;
 *   'subject' every subject token with the anchor's last focus token, and the k-th token after
 *             the subject with the k-th after the anchor's focus (clamped to the anchor's eos),
 *             so eos meets eos when both prompts come from the same template.
 */
export function pairTokenIndices(erase: PromptEmbedding, anchor: PromptEmbedding, mode: TokenSelectionMode): TokenPairing {
  checkPrompt(erase, 'erase');
  checkPrompt(anchor, 'anchor');
  if (erase.width !== anchor.width || erase.tokens !== anchor.tokens)
    throw new InputError(`token selection: anchor: shape ${anchor.tokens}x${anchor.width} differs from the erase prompt's ${erase.tokens}x${erase.width}`);
  const eraseIndices = selectTokenIndices(erase, mode, 'erase');
  const eraseFocus = focusSpan(erase);
  const anchorFocus = focusSpan(anchor);
  const anchorIndices = eraseIndices.map((index) => {
    if (mode === 'all') return index;
    if (index < eraseFocus.end) return anchorFocus.end - 1;
    return Math.min(anchorFocus.end + (index - eraseFocus.end), anchor.eosIndex);
  });
  return { eraseIndices, anchorIndices };
}

/** The paired vectors: inputs c_e from the erase prompt, targets c*_e from the anchor prompt. */
export function pairTokenVectors(
  erase: PromptEmbedding,
  anchor: PromptEmbedding,
  mode: TokenSelectionMode,
): { readonly inputs: Float64Array[]; readonly targets: Float64Array[] } {
  const { eraseIndices, anchorIndices } = pairTokenIndices(erase, anchor, mode);
  return { inputs: eraseIndices.map((i) => tokenVector(erase, i)), targets: anchorIndices.map((i) => tokenVector(anchor, i)) };
}

/** The subject span, or the token before an empty one. */
function focusSpan(prompt: PromptEmbedding): TokenSpan {
  const { start, end } = prompt.subject;
  return end > start ? { start, end } : { start: start - 1, end: start };
}

function tokenVector(prompt: PromptEmbedding, index: number): Float64Array {
  return Float64Array.from(prompt.values.subarray(index * prompt.width, (index + 1) * prompt.width));
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

function checkPrompt(prompt: PromptEmbedding, field: string): void {
  const { tokens, width, eosIndex, subject, values } = prompt;
  const where = `token selection: ${field}`;
  if (!Number.isInteger(tokens) || tokens < 2) throw new InputError(`${where}.tokens: expected an integer >= 2 (77 for CLIP), got ${tokens}`);
  if (!Number.isInteger(width) || width < 1) throw new InputError(`${where}.width: expected a positive integer, got ${width}`);
  if (values.length !== tokens * width)
    throw new InputError(`${where}.values: expected ${tokens}x${width} = ${tokens * width} values, got ${values.length}`);
  if (!Number.isInteger(eosIndex) || eosIndex < 1 || eosIndex >= tokens)
    throw new InputError(`${where}.eosIndex: expected an integer in [1, ${tokens - 1}] (BOS is token 0), got ${eosIndex}`);
  if (!Number.isInteger(subject.start) || !Number.isInteger(subject.end) || subject.start < 1 || subject.end < subject.start || subject.end > eosIndex)
    throw new InputError(
      `${where}.subject: expected token indices 1 <= start <= end <= eosIndex (${eosIndex}), got [${subject.start}, ${subject.end})`,
    );
}
