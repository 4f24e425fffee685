import { FormatError } from '../../util/errors.ts';

/**
 * JSON as the strict header parser returns it. Objects are Maps so that key order is kept and
 * keys such as "__proto__" stay ordinary data.
 */
export type StrictJson = null | boolean | number | string | StrictJson[] | Map<string, StrictJson>;

/** Nesting deeper than this is refused: a valid header nests three levels, and recursion must not overflow the stack. */
const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parses one JSON value (RFC 8259) followed only by whitespace.
 * Unlike JSON.parse, which silently keeps the last of two equal keys, a repeated key in any
 * object is a FormatError naming the key.
 */
export function parseStrictJson(text: string, file: string, field: string): StrictJson {
  return new StrictJsonParser(text, file, field).parseDocument();
}

class StrictJsonParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly field: string,
  ) {}

  parseDocument(): StrictJson {
    const value = this.value(0);
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('expected only whitespace after the JSON value');
    return value;
  }

  private fail(detail: string, field = this.field): never {
    throw new FormatError(this.file, field, `${detail} (at character ${this.pos})`);
  }

  private skipWhitespace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private value(depth: number): StrictJson {
    if (depth > MAX_DEPTH) this.fail(`JSON nested deeper than ${MAX_DEPTH} levels`);
    this.skipWhitespace();
    if (this.pos >= this.text.length) this.fail('unexpected end of JSON');
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    return this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  private literal<T extends StrictJson>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected "${word}"`);
    this.pos += word.length;
    return value;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) return this.fail('malformed number');
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private string(): string {
    const text = this.text;
    this.pos++; // opening quote
    let out = '';
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= text.length) this.fail('unterminated string');
      const c = text.charCodeAt(this.pos);
      if (c === 0x22) {
        out += text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character inside a string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += text.slice(runStart, this.pos);
      const escape = text[this.pos + 1];
      this.pos += 2;
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos -= 2;
          this.fail('malformed escape sequence');
      }
      runStart = this.pos;
    }
  }

  private array(depth: number): StrictJson[] {
    this.pos++;
    const out: StrictJson[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('expected "," or "]" in an array');
      }
    }
  }

  private object(depth: number): Map<string, StrictJson> {
    this.pos++;
    const out = new Map<string, StrictJson>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key in an object');
      const keyAt = this.pos;
      const key = this.string();
      if (out.has(key)) {
        this.pos = keyAt;
        this.fail(`key ${JSON.stringify(key)} appears more than once in one object`, `${this.field} key ${JSON.stringify(key)}`);
      }
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":" after an object key');
      this.pos++;
      out.set(key, this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('expected "," or "}" in an object');
      }
    }
  }
}
