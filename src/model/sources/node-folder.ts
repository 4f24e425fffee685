import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { FileNotFoundError } from './errors.ts';
import { assertPackPath } from '../pack-path.ts';
import { nodeFileStream } from './node-file-stream.ts';

/** A pack in a local folder, read with node:fs (CLI, tests). */
export class NodeFolderSource implements PackSource {
  readonly root: string;
  readonly id: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.id = `folder:${this.root}`;
    this.description = `folder ${this.root}`;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    assertPackPath(path);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
    options.signal?.throwIfAborted();
    const full = join(this.root, ...path.split('/'));
    let size: number;
    try {
      const info = await stat(full);
      if (!info.isFile()) throw new FileNotFoundError(path, full, 'not a regular file');
      size = info.size;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new FileNotFoundError(path, full);
      throw error;
    }
    return { size, stream: nodeFileStream(full, offset), location: full };
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
  }
}
