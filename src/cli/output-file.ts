/**
 * Outputs of `lethe` commands appear whole or not at all: a file is written to a temporary name
 * in its own folder and renamed over the target when complete; a folder is built in a hidden
 * staging folder next to it and its entries are moved in only when the command succeeds. A
 * failure (disk full, a bad input found halfway) removes the temporary data, so no partial output
 * is ever left behind. checkOutputFile() runs before the work, so an unwritable path fails at once.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputError } from '../util/errors.ts';

/** Throws OutputError unless `path` can be created or replaced as a file (its folder exists and is writable). */
export function checkOutputFile(path: string, flag: string): void {
  const target = resolve(path);
  const folder = dirname(target);
  const folderInfo = statOrNull(folder);
  if (!folderInfo) throw new OutputError(`${flag} ${path}: the folder ${folder} does not exist; create it or choose another path`);
  if (!folderInfo.isDirectory()) throw new OutputError(`${flag} ${path}: ${folder} is a file, not a folder; choose another path`);
  if (statOrNull(target)?.isDirectory()) throw new OutputError(`${flag} ${path} is a folder; give a file name`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new OutputError(`${flag} ${path}: the folder ${folder} is not writable; choose another path`);
  }
}

/** Writes `data` to `path` atomically (temporary file in the same folder, then rename). */
export async function writeOutputFile(path: string, data: Uint8Array | string, flag: string): Promise<void> {
  checkOutputFile(path, flag);
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.partial`);
  try {
    await writeFile(temporary, data);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new OutputError(`${flag} ${path}: cannot write it (${fsReason(error)}); nothing was written`);
  }
}

/** Throws OutputError unless `path` can become a folder (it is one already, or its parent can be created). */
export async function checkOutputFolder(path: string, flag: string): Promise<void> {
  const target = resolve(path);
  const info = statOrNull(target);
  if (info && !info.isDirectory()) throw new OutputError(`${flag} ${path} is a file; give a folder (it is created if missing)`);
  try {
    await mkdir(dirname(target), { recursive: true });
  } catch (error) {
    throw new OutputError(`${flag} ${path}: cannot create its folder ${dirname(target)} (${fsReason(error)}); choose another path`);
  }
}

/**
 * Runs `build` on a fresh staging folder next to `path`; on success moves everything it wrote
 * into `path` (created if missing, same-named entries replaced), on failure removes it.
 */
export async function withOutputFolder<T>(path: string, flag: string, build: (staging: string) => Promise<T>): Promise<T> {
  await checkOutputFolder(path, flag);
  const target = resolve(path);
  let staging: string;
  try {
    staging = await mkdtemp(join(dirname(target), `.${basename(target)}.partial-`));
  } catch (error) {
    throw new OutputError(`${flag} ${path}: cannot write next to it (${fsReason(error)}); choose another path`);
  }
  try {
    const result = await build(staging);
    try {
      await mkdir(target, { recursive: true });
      for (const entry of await readdir(staging)) {
        await rm(join(target, entry), { recursive: true, force: true });
        await rename(join(staging, entry), join(target, entry));
      }
    } catch (error) {
      throw new OutputError(`${flag} ${path}: cannot move the finished output into place (${fsReason(error)})`);
    }
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function fsReason(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'permission denied';
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'the folder does not exist';
  return error instanceof Error ? error.message : String(error);
}

