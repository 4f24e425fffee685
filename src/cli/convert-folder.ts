/** `lethe convert` over Node folders: the converter from an export folder to a pack folder, progress on stderr. */
import type { PackManifest } from '../model/manifest.ts';
import { convertExport, type ConvertOptions } from '../model/converter/convert.ts';
import { nodeDirectorySink } from '../model/converter/node-files.ts';
import { NodeFolderSource } from '../model/sources/node-folder.ts';
import { fileProgressPrinter } from './file-progress.ts';

export async function runConvertCli(inDir: string, outDir: string, options: Pick<ConvertOptions, 'plan' | 'signal'> = {}): Promise<PackManifest> {
  const manifest = await convertExport(new NodeFolderSource(inDir), nodeDirectorySink(outDir), { ...options, onProgress: fileProgressPrinter() });
  process.stderr.write(
    `wrote a ${manifest.family} ${manifest.dtype} pack: ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers, ${Object.keys(manifest.files).length + 1} files\n`,
  );
  return manifest;
}
