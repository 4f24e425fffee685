import type { PackLoadProgress } from './pack-spec.ts';
import { MemorySink } from './converter/index.ts';
import { buildPackFromDiffusers, packSourceReader } from './diffusers/index.ts';
import { MemoryPackSource } from './memory-source.ts';
import { FileNotFoundError } from './sources/errors.ts';
import type { PackSource } from './sources/pack-source.ts';

/** True when `source` holds a diffusers repo (model_index.json) rather than a Lethe pack. */
export async function isDiffusersRepo(source: PackSource, signal?: AbortSignal): Promise<boolean> {
  try {
    const file = await source.open('model_index.json', { signal });
    await file.stream.cancel();
    return true;
  } catch (error) {
    if (error instanceof FileNotFoundError) return false;
    throw error;
  }
}

/**
 * Builds a pack from a diffusers repo (configs + safetensors), reading each weight by byte
 * range as its piece is written, so the UNet's weights are never held twice. The pack itself is
 * held in memory (ORT-web needs every piece's bytes anyway) and then goes through the normal
 * verified loader like any other pack.
 */
export async function diffusersPackSource(source: PackSource, onProgress?: (progress: PackLoadProgress) => void, signal?: AbortSignal): Promise<PackSource> {
  const sink = new MemorySink();
  await buildPackFromDiffusers(packSourceReader(source, signal), sink, {
    signal,
    onProgress: (p) =>
      onProgress?.({ phase: 'prepare', ...(p.file ? { file: p.file } : {}), bytesDone: p.filesDone, bytesTotal: p.filesTotal, overallDone: p.filesDone, overallTotal: p.filesTotal }),
  });
  return new MemoryPackSource(sink.files, { id: `${source.id}#diffusers`, name: `pack built from the diffusers repo ${source.description}` });
}
