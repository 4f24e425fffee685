/**
 * Reads the tokenizer folder Stable Diffusion repos ship (vocab.json, merges.txt,
 * tokenizer_config.json, special_tokens_map.json; no tokenizer.json) and checks that the files
 * describe a CLIP byte-level BPE that can tokenize any text without unknown pieces.
 */
import { FormatError } from '../../util/errors.ts';
import { BYTE_SYMBOLS_IN_VOCAB_ORDER } from './byte-symbols.ts';
import { CLIP_CONTEXT_LENGTH, END_OF_TEXT, END_OF_WORD, START_OF_TEXT } from './clip-rules.ts';

/** The text of the tokenizer files, as read from a repo folder, a pack or the forge. */
export interface ClipTokenizerFiles {
  vocabJson: string;
  mergesTxt: string;
  tokenizerConfigJson: string;
  specialTokensMapJson?: string;
}

export interface ClipSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
  pad: string;
}

/** The files, parsed and checked. */
export interface ClipVocabulary {
  /** vocab.json as parsed: token -> id. */
  vocab: Readonly<Record<string, number>>;
  /** Merges in rank order (line order of merges.txt). */
  merges: readonly (readonly [string, string])[];
  /** Largest id + 1. */
  vocabSize: number;
  specialTokens: ClipSpecialTokens;
  /** model_max_length: the text encoder's context (77 for SD 1.x/2.x). */
  maxLength: number;
}

const VOCAB = 'vocab.json';
const MERGES = 'merges.txt';
const CONFIG = 'tokenizer_config.json';
const SPECIAL_MAP = 'special_tokens_map.json';

/** Beyond this a model_max_length is transformers' "no limit" sentinel, not a context length. */
const MAX_CONTEXT_LENGTH = 4096;
const ACCEPTED_TOKENIZER_CLASSES = new Set(['CLIPTokenizer', 'CLIPTokenizerFast']);

export function parseClipTokenizerFiles(files: ClipTokenizerFiles): ClipVocabulary {
  const vocab = parseVocab(files.vocabJson);
  const merges = parseMerges(files.mergesTxt, vocab);
  const config = parseJsonObject(files.tokenizerConfigJson, CONFIG);
  const specialMap = files.specialTokensMapJson === undefined ? {} : parseJsonObject(files.specialTokensMapJson, SPECIAL_MAP);

  const tokenizerClass = config.tokenizer_class;
  if (tokenizerClass !== undefined && (typeof tokenizerClass !== 'string' || !ACCEPTED_TOKENIZER_CLASSES.has(tokenizerClass)))
    throw new FormatError(CONFIG, 'tokenizer_class', `expected CLIPTokenizer or CLIPTokenizerFast, got ${JSON.stringify(tokenizerClass)}`);

  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);

  // transformers lets special_tokens_map.json override tokenizer_config.json; the defaults are
  // CLIPTokenizer's own.
  const special = (field: string, fallback: string): string => {
    const fromMap = specialToken(specialMap, field, SPECIAL_MAP);
    const fromConfig = specialToken(config, field, CONFIG);
    const token = fromMap ?? fromConfig ?? fallback;
    if (!vocab.has(token)) throw new FormatError(VOCAB, field, `special token ${JSON.stringify(token)} is not in the vocabulary`);
    return token;
  };
  const eos = special('eos_token', END_OF_TEXT);
  const specialTokens: ClipSpecialTokens = {
    bos: special('bos_token', START_OF_TEXT),
    eos,
    unk: special('unk_token', END_OF_TEXT),
    pad: special('pad_token', eos),
  };

  return {
    vocab: Object.fromEntries(vocab),
    merges,
    vocabSize,
    specialTokens,
    maxLength: parseMaxLength(config.model_max_length),
  };
}

function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FormatError(file, '(json)', `not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FormatError(file, '(root)', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  return value as Record<string, unknown>;
}

function parseVocab(text: string): Map<string, number> {
  const raw = parseJsonObject(text, VOCAB);
  const vocab = new Map<string, number>();
  const tokenOfId = new Map<number, string>();
  for (const [token, id] of Object.entries(raw)) {
    if (token.length === 0) throw new FormatError(VOCAB, '""', 'empty token');
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff)
      throw new FormatError(VOCAB, JSON.stringify(token), `id must be a non-negative 32-bit integer, got ${JSON.stringify(id)}`);
    const other = tokenOfId.get(id);
    if (other !== undefined) throw new FormatError(VOCAB, JSON.stringify(token), `id ${id} is also the id of ${JSON.stringify(other)}`);
    tokenOfId.set(id, token);
    vocab.set(token, id);
  }
  // Every word falls back to single-byte pieces, so all of them must exist or text would
  // silently turn into unknown tokens.
  for (const symbol of BYTE_SYMBOLS_IN_VOCAB_ORDER) {
    for (const piece of [symbol, symbol + END_OF_WORD]) {
      if (!vocab.has(piece))
        throw new FormatError(VOCAB, JSON.stringify(piece), 'byte-level symbol missing: a CLIP vocabulary holds all 256 byte symbols, with and without </w>');
    }
  }
  return vocab;
}

function parseMerges(text: string, vocab: ReadonlyMap<string, number>): [string, string][] {
  const lines = text.split(/\r?\n/);
  const merges: [string, string][] = [];
  const seen = new Set<string>();
  lines.forEach((line, index) => {
    if (line.length === 0 || (index === 0 && line.startsWith('#version'))) return;
    const lineName = `line ${index + 1}`;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0].length === 0 || parts[1].length === 0)
      throw new FormatError(MERGES, lineName, `expected two symbols separated by one space, got ${JSON.stringify(line)}`);
    if (seen.has(line)) throw new FormatError(MERGES, lineName, `merge ${JSON.stringify(line)} is listed twice`);
    seen.add(line);
    const [left, right] = parts;
    for (const piece of [left, right, left + right]) {
      if (!vocab.has(piece)) throw new FormatError(MERGES, lineName, `${JSON.stringify(piece)} (from merge ${JSON.stringify(line)}) is not in vocab.json`);
    }
    merges.push([left, right]);
  });
  return merges;
}

/** A token field: a plain string or an AddedToken object (`{"content": ...}`). */
function specialToken(fields: Record<string, unknown>, field: string, file: string): string | undefined {
  const value = fields[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const content = (value as Record<string, unknown>).content;
    if (typeof content === 'string') return content;
  }
  throw new FormatError(file, field, `expected a token string or an object with a string "content", got ${JSON.stringify(value)}`);
}

function parseMaxLength(value: unknown): number {
  if (value === undefined) return CLIP_CONTEXT_LENGTH;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 3 || value > MAX_CONTEXT_LENGTH)
    throw new FormatError(CONFIG, 'model_max_length', `expected the text encoder's context length (an integer 3..${MAX_CONTEXT_LENGTH}, 77 for Stable Diffusion), got ${JSON.stringify(value)}`);
  return value;
}
