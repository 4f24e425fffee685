/** Node: forge into a directory, streaming external data to disk (the -shapes presets are GBs). */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { forgeInto, type ForgeOptions, type ForgeSummary } from './forge.ts';

export async function forge(options: ForgeOptions & { outDir: string }): Promise<ForgeSummary> {
  const target = (path: string): string => join(options.outDir, ...path.split('/'));
  return forgeInto(options, {
    writeFile: async (path, bytes) => {
      await mkdir(dirname(target(path)), { recursive: true });
      await writeFile(target(path), bytes);
    },
    openStream: async (path) => {
      await mkdir(dirname(target(path)), { recursive: true });
      const stream = createWriteStream(target(path));
      const failed = new Promise<never>((_, reject) => stream.once('error', reject));
      void failed.catch(() => undefined);
      return {
        write: (bytes) =>
          Promise.race([
            failed,
            new Promise<void>((resolve, reject) => stream.write(bytes, (error) => (error ? reject(error) : resolve()))),
          ]),
        close: () => Promise.race([failed, new Promise<void>((resolve) => stream.end(resolve))]),
      };
    },
  });
}
