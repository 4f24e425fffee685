/**
 * CLIP's BPE tokenizer written straight from the algorithm of OpenAI's simple_tokenizer, for
 * tests only: no transformers.js, no shared code with src/pipeline/tokenizer.
 *
 * clean-up: NFC (the part of ftfy.fix_text that changes ordinary text), whitespace runs -> one
 * space, strip, lower-case. Then special-token text is cut out first, as transformers does
 * (OpenAI's regex lists them first too; the two differ only for special-token text glued to
 * punctuation). Each regex word is UTF-8 encoded, written in byte symbols, and merged by BPE:
 * repeatedly find the adjacent pair with the lowest merge rank and join every occurrence of it,
 * left to right, until no pair has a rank.
 */

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const CONTEXT = 77;
const SPECIAL_SPLIT = /(<\|startoftext\|>|<\|endoftext\|>)/;
const WORD = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/gu;

/** GPT-2's bytes_to_unicode: printable bytes keep their code point, the rest get 256 + n. */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCharCode(cs[i])]));
}

function pairsOf(word: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < word.length; i++) pairs.push([word[i], word[i + 1]]);
  return pairs;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

export class ClipBpeReference {
  readonly encoder: Map<string, number>;
  readonly ranks: Map<string, number>;
  readonly padId: number;
  private readonly byteEncoder = bytesToUnicode();

  constructor(files: { vocabJson: string; mergesTxt: string; tokenizerConfigJson: string; specialTokensMapJson?: string }) {
    this.encoder = new Map(Object.entries(JSON.parse(files.vocabJson) as Record<string, number>));
    const lines = files.mergesTxt.split('\n').filter((line) => line.trim().length > 0 && !line.startsWith('#version'));
    this.ranks = new Map(lines.map((line, rank) => [line.trim(), rank]));
    const config = JSON.parse(files.tokenizerConfigJson) as Record<string, unknown>;
    const map = files.specialTokensMapJson ? (JSON.parse(files.specialTokensMapJson) as Record<string, unknown>) : {};
    const pad = tokenContent(map.pad_token) ?? tokenContent(config.pad_token) ?? EOS;
    this.padId = this.id(pad);
  }

  id(piece: string): number {
    const id = this.encoder.get(piece);
    if (id === undefined) throw new Error(`reference: ${JSON.stringify(piece)} is not in the vocabulary`);
    return id;
  }

  bpe(token: string): string[] {
    const chars = [...token];
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    let pairs = pairsOf(word);
    if (pairs.length === 0) return [token + '</w>'];
    for (;;) {
      let best: [string, string] | null = null;
      let bestRank = Infinity;
      for (const pair of pairs) {
        const rank = this.ranks.get(`${pair[0]} ${pair[1]}`) ?? Infinity;
        if (rank < bestRank) {
          bestRank = rank;
          best = pair;
        }
      }
      if (best === null) break;
      const [first, second] = best;
      const next: string[] = [];
      let i = 0;
      while (i < word.length) {
        const j = word.indexOf(first, i);
        if (j === -1) {
          next.push(...word.slice(i));
          break;
        }
        next.push(...word.slice(i, j));
        i = j;
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      word = next;
      if (word.length === 1) break;
      pairs = pairsOf(word);
    }
    return word;
  }

  /** BPE pieces of the prompt, without bos/eos and without truncation. */
  pieces(text: string): string[] {
    // Python's str.strip(), not JS trim(): U+FEFF is not whitespace to Python or to CLIP.
    const clean = text.normalize('NFC').replace(/\p{White_Space}+/gu, ' ').replace(/^ | $/g, '').toLowerCase();
    const out: string[] = [];
    for (const section of clean.split(SPECIAL_SPLIT)) {
      if (section === BOS || section === EOS) {
        out.push(section);
        continue;
      }
      for (const match of section.matchAll(WORD)) {
        const bytes = new TextEncoder().encode(match[0]);
        const symbols = Array.from(bytes, (b) => this.byteEncoder.get(b)!).join('');
        out.push(...this.bpe(symbols));
      }
    }
    return out;
  }

  /** 77 ids: bos, up to 75 prompt tokens, eos, padding. */
  encode(text: string): Int32Array {
    const ids = this.pieces(text).map((piece) => this.id(piece)).slice(0, CONTEXT - 2);
    const out = new Int32Array(CONTEXT).fill(this.padId);
    out.set([this.id(BOS), ...ids, this.id(EOS)]);
    return out;
  }
}
