/**
 * Input files named by `lethe` flags, read with errors that say which flag and what to do:
 * a missing path is InputNotFoundError (exit 3), a folder or unreadable file InputError (exit 1).
 */
import { readFileSync } from 'node:fs';
import { InputError, InputNotFoundError } from '../util/errors.ts';

export function readInputBytes(path: string, flag: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputNotFoundError(`${flag}: cannot read ${path}: no such file; check the path`);
    if (code === 'EISDIR') throw new InputError(`${flag}: cannot read ${path}: it is a folder; give the file`);
    throw new InputError(`${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The file as UTF-8 text; bytes that are not UTF-8 (a binary file given by mistake) are an InputError. */
export function readInputText(path: string, flag: string): string {
  const bytes = readInputBytes(path, flag);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${flag}: ${path} is not a text file (not valid UTF-8); give the JSON/text file it expects`);
  }
}
