/**
 * Strict readers for JSON read from files: every failure is a FormatError(file, field, detail)
 * naming the file, the field's full path ('a.b[2].c') and what was expected.
 * - parseJsonObject: a file's bytes as one JSON object.
 * - JsonFields: one JSON object of a format Lethe owns (pack manifest, erasure recipe), read
 *   field by field; unknown fields are errors (`done()`, or the key list given to `of`).
 * - ConfigFields: a config.json Lethe reads but does not own (diffusers / transformers): unknown
 *   keys are allowed, null counts as absent, most fields have defaults, values are quoted whole.
 */
import { FormatError } from './errors.ts';
import { describeValue as describe } from './describe-value.ts';

export type JsonObject = Record<string, unknown>;

/** The keys an object must have, and those it may have; any other key is an error. */
export interface JsonKeys {
  readonly required: readonly string[];
  readonly optional?: readonly string[];
}

/** A file's bytes as a JSON object (UTF-8, strict). */
export function parseJsonObject(bytes: Uint8Array, file: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new FormatError(file, '(json)', `is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FormatError(file, '(json)', 'expected a JSON object');
  return value as JsonObject;
}

/**
 * Reads one JSON object field by field for a strict parser. Every accessor checks the type and
 * range and throws FormatError(file, 'a.b[2].c', detail) otherwise; `done()` rejects fields
 * nobody asked for, so a typo is an error instead of a silently missing value.
 */
export class JsonFields {
  private readonly seen = new Set<string>();

  private constructor(
    readonly file: string,
    readonly path: string,
    private readonly raw: JsonObject,
  ) {}

  /**
   * `value` as an object at `path` ('' for the root). With `keys`, the object must have exactly
   * the required keys and may have the optional ones (checked now: unknown first, then missing).
   */
  static of(file: string, path: string, value: unknown, keys?: JsonKeys): JsonFields {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new FormatError(file, path || '(root)', `expected an object${keys ? ` with ${keys.required.join(', ')}` : ''}, got ${describe(value)}`);
    const fields = new JsonFields(file, path, value as JsonObject);
    if (keys) {
      const optional = keys.optional ?? [];
      for (const key of Object.keys(value)) {
        if (!keys.required.includes(key) && !optional.includes(key))
          fields.fail(key, `unknown field; expected one of ${[...keys.required, ...optional].join(', ')}`);
      }
      for (const key of keys.required) if (!Object.hasOwn(value, key)) fields.fail(key, 'missing');
    }
    return fields;
  }

  fieldName(key: string): string {
    return childPath(this.path, key);
  }

  /** An error about any field of the file, named by its full path. */
  errorAt(field: string, detail: string): FormatError {
    return new FormatError(this.file, field, detail);
  }

  error(key: string, detail: string): FormatError {
    return this.errorAt(this.fieldName(key), detail);
  }

  fail(key: string, detail: string): never {
    throw this.error(key, detail);
  }

  /** Throws about this object as a whole. */
  failHere(detail: string): never {
    throw this.errorAt(this.path || '(root)', detail);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.raw, key);
  }

  /** The raw value; a missing field is an error. */
  value(key: string): unknown {
    this.seen.add(key);
    if (!Object.hasOwn(this.raw, key)) this.fail(key, 'missing');
    return this.raw[key];
  }

  /** The raw value, undefined when absent. */
  get(key: string): unknown {
    this.seen.add(key);
    return Object.hasOwn(this.raw, key) ? this.raw[key] : undefined;
  }

  keys(): string[] {
    return Object.keys(this.raw);
  }

  string(key: string, opts: { maxLength?: number; pattern?: RegExp; patternText?: string } = {}): string {
    const value = this.value(key);
    if (typeof value !== 'string') this.fail(key, `expected a string, got ${describe(value)}`);
    checkString(value, opts, (detail) => this.fail(key, detail));
    return value;
  }

  optionalString(key: string, opts: { maxLength?: number; pattern?: RegExp; patternText?: string } = {}): string | undefined {
    if (!this.has(key)) {
      this.seen.add(key);
      return undefined;
    }
    return this.string(key, opts);
  }

  /** A string matching `pattern`; otherwise "expected <expected>, got ...". */
  matching(key: string, pattern: RegExp, expected: string): string {
    const value = this.value(key);
    if (typeof value !== 'string' || !pattern.test(value)) this.fail(key, `expected ${expected}, got ${describe(value)}`);
    return value;
  }

  literal<T extends string | number>(key: string, allowed: readonly T[]): T {
    const value = this.value(key);
    if (!allowed.includes(value as T)) this.fail(key, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(value)}`);
    return value as T;
  }

  integer(key: string, min: number, max: number): number {
    const value = this.value(key);
    return checkInteger(value, min, max, (detail) => this.fail(key, detail));
  }

  finiteNumber(key: string): number {
    const value = this.value(key);
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, `expected a finite number, got ${describe(value)}`);
    return value;
  }

  /** A finite number > 0. */
  positive(key: string): number {
    const value = this.finiteNumber(key);
    if (!(value > 0)) this.fail(key, `expected a finite number > 0, got ${describe(value)}`);
    return value;
  }

  /** A finite number in (0, max]. */
  positiveNumber(key: string, max: number): number {
    const value = this.value(key);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)
      this.fail(key, `expected a number in (0, ${max}], got ${describe(value)}`);
    return value;
  }

  object(key: string, keys?: JsonKeys): JsonFields {
    return JsonFields.of(this.file, this.fieldName(key), this.value(key), keys);
  }

  optionalObject(key: string): JsonFields | undefined {
    if (!this.has(key)) {
      this.seen.add(key);
      return undefined;
    }
    return this.object(key);
  }

  /** The elements of an array field with their field names, length checked. */
  array(key: string, minLength: number, maxLength: number): { value: unknown; field: string }[] {
    const value = this.value(key);
    if (!Array.isArray(value)) this.fail(key, `expected an array, got ${describe(value)}`);
    if (value.length < minLength || value.length > maxLength) this.fail(key, `expected ${minLength} to ${maxLength} elements, got ${value.length}`);
    return value.map((element, i) => ({ value: element, field: `${this.fieldName(key)}[${i}]` }));
  }

  /** Throws on any field that no accessor read. */
  done(): void {
    for (const key of Object.keys(this.raw)) {
      if (!this.seen.has(key)) this.fail(key, 'unknown field');
    }
  }
}

export function checkInteger(value: unknown, min: number, max: number, fail: (detail: string) => never): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    fail(`expected an integer in [${min}, ${max}], got ${describe(value)}`);
  return value as number;
}

export function checkString(value: string, opts: { maxLength?: number; pattern?: RegExp; patternText?: string }, fail: (detail: string) => never): void {
  const maxLength = opts.maxLength ?? 512;
  if (value.length > maxLength) fail(`longer than ${maxLength} characters`);
  if (opts.pattern && !opts.pattern.test(value)) fail(`${JSON.stringify(value)} does not match ${opts.patternText ?? String(opts.pattern)}`);
}

function childPath(path: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (!path) return part;
  return part.startsWith('[') ? `${path}${part}` : `${path}.${part}`;
}

/**
 * The fields of a diffusers/transformers config.json: each accessor says which file and key was
 * wrong and what it expected. A key that is absent or null takes the fallback; without one it
 * is 'missing'.
 */
export class ConfigFields {
  private readonly fields: JsonFields;

  constructor(
    readonly config: JsonObject,
    readonly file: string,
  ) {
    this.fields = JsonFields.of(file, '', config);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.config, key) && this.config[key] !== null;
  }

  /** The key is the field name as written (config keys are not nested). */
  private fail(key: string, detail: string): never {
    throw this.fields.errorAt(key, detail);
  }

  private get(key: string, fallback: unknown): unknown {
    if (!this.has(key)) {
      if (fallback === undefined) this.fail(key, 'missing');
      return fallback;
    }
    return this.config[key];
  }

  int(key: string, fallback?: number, min = 1): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) this.fail(key, `expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    return value;
  }

  number(key: string, fallback?: number): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, `expected a number, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(key: string, fallback?: boolean): boolean {
    const value = this.get(key, fallback);
    if (typeof value !== 'boolean') this.fail(key, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  string(key: string, fallback?: string): string {
    const value = this.get(key, fallback);
    if (typeof value !== 'string') this.fail(key, `expected a string, got ${JSON.stringify(value)}`);
    return value;
  }

  ints(key: string, fallback?: number[]): number[] {
    const value = this.get(key, fallback);
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1))
      this.fail(key, `expected a non-empty list of positive integers, got ${JSON.stringify(value)}`);
    return value as number[];
  }

  strings(key: string): string[] {
    const value = this.get(key, undefined);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) this.fail(key, `expected a list of strings, got ${JSON.stringify(value)}`);
    return value as string[];
  }

  /** An int, or a list with one int per block (diffusers accepts both for many fields). */
  intPerBlock(key: string, blocks: number, fallback?: number): number[] {
    const value = this.get(key, fallback);
    if (Array.isArray(value)) {
      const list = this.ints(key);
      if (list.length !== blocks) this.fail(key, `expected ${blocks} values (one per block), got ${list.length}`);
      return list;
    }
    return new Array<number>(blocks).fill(this.int(key, fallback));
  }

  /** Fails when `key` is present with a value other than the ones Lethe's graphs implement. */
  requireDefault(key: string, allowed: readonly unknown[], why: string): void {
    if (!Object.hasOwn(this.config, key)) return;
    const value = this.config[key];
    if (!allowed.some((a) => JSON.stringify(a) === JSON.stringify(value)))
      this.fail(key, `${JSON.stringify(value)} is not supported (${why}); expected ${allowed.map((a) => JSON.stringify(a)).join(' or ')}`);
  }
}
