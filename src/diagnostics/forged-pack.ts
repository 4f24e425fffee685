import type { ForgedDemoPreset } from '../model/pack-spec.ts';
import { convertExport, MemorySink } from '../model/converter/index.ts';
import { MemoryPackSource } from '../model/memory-source.ts';
import { forgeInMemory } from '../model/forge/forge.ts';
import { MANIFEST_FILE, parseManifest } from '../model/manifest.ts';
import type { PackReader } from '../model/pack-reader.ts';

export interface ForgedPack {
  /** The forged diffusers/optimum ONNX export. */
  exportFiles: Map<string, Uint8Array>;
  /** The pack the converter made from it. */
  pack: PackReader;
}

/** A tiny export forged in memory and converted: the input of the diagnostics and benchmarks. */
export async function forgedPack(preset: ForgedDemoPreset, dtype: 'fp32' | 'fp16' = 'fp32', seed = 0): Promise<ForgedPack> {
  const { files } = await forgeInMemory({ preset, seed, dtype });
  const sink = new MemorySink();
  await convertExport(new MemoryPackSource(files), sink);
  const manifest = parseManifest(new TextDecoder().decode(sink.files.get(MANIFEST_FILE)), MANIFEST_FILE);
  return {
    exportFiles: files,
    pack: {
      manifest,
      bytes: async (path) => {
        const bytes = sink.files.get(path);
        if (!bytes) throw new Error(`pack file ${path} missing`);
        return bytes;
      },
    },
  };
}
