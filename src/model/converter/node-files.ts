/** Node: a pack directory as a PackSink. (An export directory is read by sources/node-folder.ts's NodeFolderSource.) */
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { plainPathSegments } from '../sources/export-source.ts';
import { contentChunks, type FileContent, type PackSink } from './files.ts';

/** Writes each file to `<path>.partial` and renames it when complete, so a crash leaves no truncated file under the real name. */
export function nodeDirectorySink(root: string): PackSink {
  return {
    write: async (path: string, content: FileContent) => {
      const target = join(root, ...plainPathSegments(path));
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
