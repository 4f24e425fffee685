import { FormatError } from '../util/errors.ts';
import { describeValue as describe } from '../util/describe-value.ts';

/**
 * Reads one JSON object field by field for a strict parser. Every accessor checks the type and
 * range and throws FormatError(file, 'a.b[2].c', detail) otherwise; `done()` rejects fields
 * nobody asked for, so a typo in a manifest is an error instead of a silently missing value.
 */
export class JsonObjectFields {
  private readonly seen = new Set<string>();

  private constructor(
    readonly file: string,
    readonly path: string,
    private readonly raw: Record<string, unknown>,
  ) {}

  static of(file: string, path: string, value: unknown): JsonObjectFields {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new FormatError(file, path || '(root)', `expected an object, got ${describe(value)}`);
    return new JsonObjectFields(file, path, value as Record<string, unknown>);
  }

  fieldName(key: string): string {
    return childPath(this.path, key);
  }

  /** Throws about this object as a whole. */
  failHere(detail: string): never {
    throw new FormatError(this.file, this.path || '(root)', detail);
  }

  fail(key: string, detail: string): never {
    throw new FormatError(this.file, this.fieldName(key), detail);
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

  literal<T extends string | number>(key: string, allowed: readonly T[]): T {
    const value = this.value(key);
    if (!allowed.includes(value as T))
      this.fail(key, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(value)}`);
    return value as T;
  }

  integer(key: string, min: number, max: number): number {
    const value = this.value(key);
    return checkInteger(value, min, max, (detail) => this.fail(key, detail));
  }

  /** A finite number in (exclusiveMin, max]. */
  positiveNumber(key: string, max: number): number {
    const value = this.value(key);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)
      this.fail(key, `expected a number in (0, ${max}], got ${describe(value)}`);
    return value;
  }

  object(key: string): JsonObjectFields {
    return JsonObjectFields.of(this.file, this.fieldName(key), this.value(key));
  }

  optionalObject(key: string): JsonObjectFields | undefined {
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
    if (value.length < minLength || value.length > maxLength)
      this.fail(key, `expected ${minLength} to ${maxLength} elements, got ${value.length}`);
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

export function checkString(
  value: string,
  opts: { maxLength?: number; pattern?: RegExp; patternText?: string },
  fail: (detail: string) => never,
): void {
  const maxLength = opts.maxLength ?? 512;
  if (value.length > maxLength) fail(`longer than ${maxLength} characters`);
  if (opts.pattern && !opts.pattern.test(value))
    fail(`${JSON.stringify(value)} does not match ${opts.patternText ?? String(opts.pattern)}`);
}

function childPath(path: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (!path) return part;
  return part.startsWith('[') ? `${path}${part}` : `${path}.${part}`;
}

/** A short description of a JSON value for error messages. */
