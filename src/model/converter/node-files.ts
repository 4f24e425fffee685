/** Node: an export directory as an ExportSource (ranged reads through a file handle) and a pack directory as a PackSink. */
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError } from '../../util/errors.ts';
import { contentChunks, type ExportSource, type FileContent, type PackSink } from './files.ts';

function resolve(root: string, path: string): string {
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..') || path.includes('\\'))
    throw new FormatError(path, '(path)', 'not a plain relative path');
  return join(root, ...path.split('/'));
}

export function nodeDirectorySource(root: string): ExportSource {
  return {
    read: async (path) => {
      const bytes = await readFile(resolve(root, path));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    size: async (path) => {
      try {
        const info = await stat(resolve(root, path));
        return info.isFile() ? info.size : undefined;
      } catch {
        return undefined;
      }
    },
    readRange: async (path, offset, length) => {
      const handle = await open(resolve(root, path), 'r');
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
    },
  };
}

/** Writes each file to `<path>.partial` and renames it when complete, so a crash leaves no truncated file under the real name. */
export function nodeDirectorySink(root: string): PackSink {
  return {
    write: async (path: string, content: FileContent) => {
      const target = resolve(root, path);
      await mkdir(dirname(target), { recursive: true });
      const partial = `${target}.partial`;
      const stream = createWriteStream(partial);
      const failed = new Promise<never>((_, reject) => stream.once('error', reject));
      void failed.catch(() => undefined);
      for await (const chunk of contentChunks(content)) {
        if (!stream.write(chunk)) await Promise.race([failed, new Promise<void>((resolveDrain) => stream.once('drain', () => resolveDrain()))]);
      }
      await Promise.race([failed, new Promise<void>((resolveEnd) => stream.end(resolveEnd))]);
      await rename(partial, target);
    },
  };
}
