/**
 * Strict readers for the fields of a diffusers/transformers config.json: each says which file and
 * key was wrong and what it expected.
 */
import { FormatError } from '../../util/errors.ts';

export type JsonObject = Record<string, unknown>;

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

export class ConfigFields {
  constructor(
    readonly config: JsonObject,
    readonly file: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.config, key) && this.config[key] !== null;
  }

  private get(key: string, fallback: unknown): unknown {
    if (!this.has(key)) {
      if (fallback === undefined) throw new FormatError(this.file, key, 'missing');
      return fallback;
    }
    return this.config[key];
  }

  int(key: string, fallback?: number, min = 1): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      throw new FormatError(this.file, key, `expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    return value;
  }

  number(key: string, fallback?: number): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new FormatError(this.file, key, `expected a number, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(key: string, fallback?: boolean): boolean {
    const value = this.get(key, fallback);
    if (typeof value !== 'boolean') throw new FormatError(this.file, key, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  string(key: string, fallback?: string): string {
    const value = this.get(key, fallback);
    if (typeof value !== 'string') throw new FormatError(this.file, key, `expected a string, got ${JSON.stringify(value)}`);
    return value;
  }

  ints(key: string, fallback?: number[]): number[] {
    const value = this.get(key, fallback);
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1))
      throw new FormatError(this.file, key, `expected a non-empty list of positive integers, got ${JSON.stringify(value)}`);
    return value as number[];
  }

  strings(key: string): string[] {
    const value = this.get(key, undefined);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new FormatError(this.file, key, `expected a list of strings, got ${JSON.stringify(value)}`);
    return value as string[];
  }

  /** An int, or a list with one int per block (diffusers accepts both for many fields). */
  intPerBlock(key: string, blocks: number, fallback?: number): number[] {
    const value = this.get(key, fallback);
    if (Array.isArray(value)) {
      const list = this.ints(key);
      if (list.length !== blocks) throw new FormatError(this.file, key, `expected ${blocks} values (one per block), got ${list.length}`);
      return list;
    }
    return new Array<number>(blocks).fill(this.int(key, fallback));
  }

  /** Fails when `key` is present with a value other than the ones Lethe's graphs implement. */
  requireDefault(key: string, allowed: readonly unknown[], why: string): void {
    if (!Object.hasOwn(this.config, key)) return;
    const value = this.config[key];
    if (!allowed.some((a) => JSON.stringify(a) === JSON.stringify(value)))
      throw new FormatError(this.file, key, `${JSON.stringify(value)} is not supported (${why}); expected ${allowed.map((a) => JSON.stringify(a)).join(' or ')}`);
  }
}
