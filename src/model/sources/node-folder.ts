import { open as openFile, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { plainPathSegments, type ExportSource } from './export-source.ts';
import { FileNotFoundError } from './errors.ts';
import { assertPackPath } from '../pack-path.ts';
import { nodeFileStream } from './node-file-stream.ts';

/**
 * A local folder read with node:fs, two ways:
 * - as a PackSource (`open`, `list`): a pack folder (CLI, tests, the shipped demo pack). Paths
 *   must be pack paths (RangeError otherwise); a missing file rejects with FileNotFoundError.
 * - as an ExportSource (`read`, `size`, `readRange`): an export or diffusers repo folder for
 *   `lethe convert` and `lethe pack`. Any plain relative path is accepted (FormatError for '',
 *   '.', '..' segments or a backslash), a whole read has no size limit, a range is read through
 *   a file handle straight into its buffer, and `size` is undefined for anything but a file.
 */
export class NodeFolderSource implements PackSource, ExportSource {
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

  async read(path: string): Promise<Uint8Array> {
    const bytes = await readFile(this.exportFile(path));
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async size(path: string): Promise<number | undefined> {
    try {
      const info = await stat(this.exportFile(path));
      return info.isFile() ? info.size : undefined;
    } catch {
      return undefined;
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await openFile(this.exportFile(path), 'r');
    try {
      const out = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? out : out.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  /** The file an export path names: any plain relative path, so always inside the folder. */
  private exportFile(path: string): string {
    return join(this.root, ...plainPathSegments(path));
  }
}
