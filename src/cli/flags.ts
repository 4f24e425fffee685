import { parseArgs } from 'node:util';
import { UsageError } from './command.ts';

type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** node:util parseArgs with errors as UsageError (the CLI prints usage for those). */
export function parseFlags<T extends FlagSpec>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    // Said the same way as the commands that read their own flags (lethe export).
    const unknown = /^Unknown option '([^']+)'/.exec((error as Error).message);
    if (unknown) throw new UsageError(`unknown argument "${unknown[1]}"`);
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function requireFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

export function integerFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got "${value}"`);
  return parsed;
}

export function numberFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`${flag} must be a number in [${min}, ${max}], got "${value}"`);
  return parsed;
}

export function choiceFlag<C extends string>(value: string | undefined, flag: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!choices.includes(value as C)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as C;
}
