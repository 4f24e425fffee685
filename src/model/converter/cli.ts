/** Node entry for `lethe convert <export dir> <pack dir>`: the converter over directories, progress on stderr. */
import type { PackManifest } from '../manifest.ts';
import { convertExport, type ConvertOptions } from './convert.ts';
import { nodeDirectorySink, nodeDirectorySource } from './node-files.ts';

export async function runConvertCli(inDir: string, outDir: string, options: Pick<ConvertOptions, 'plan' | 'signal'> = {}): Promise<PackManifest> {
  let lastFile = '';
  const manifest = await convertExport(nodeDirectorySource(inDir), nodeDirectorySink(outDir), {
    ...options,
    onProgress: ({ file, filesDone, filesTotal }) => {
      if (file && file !== lastFile) process.stderr.write(`[${filesDone + 1}/${filesTotal}] ${file}\n`);
      lastFile = file ?? lastFile;
    },
  });
  process.stderr.write(
    `wrote a ${manifest.family} ${manifest.dtype} pack: ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers, ${Object.keys(manifest.files).length + 1} files\n`,
  );
  return manifest;
}
