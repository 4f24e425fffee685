import type { DemoPreset, ForgedDemoPreset } from '../model/pack-spec.ts';
import { convertExport, MemorySink } from '../model/converter/index.ts';
import { forgeInMemory } from '../model/forge/forge.ts';
import { MemoryPackSource } from '../model/memory-source.ts';
import type { PackSource } from '../model/sources/pack-source.ts';

/** Seed of the built-in demo pack: fixed, so its files (and cache keys) never change. */
export const DEMO_SEED = 0;

const built = new Map<ForgedDemoPreset, Promise<PackSource>>();

/** Where the concept-world pack lives: under the studio's public folder, served next to it. */
export const CONCEPT_WORLD_PACK_DIR = 'concept-world/pack';
export const SHIPPED_DEMO_ID = 'demo:concept-world';
export const SHIPPED_DEMO_DESCRIPTION = 'built-in demo (concept world)';

/**
 * The built-in demo packs. The concept world is a trained pack shipped with the app (read from
 * where the platform serves it, verified and cached like any pack). The tiny presets are SD
 * models forged in memory in exactly the layout of a real diffusers ONNX export, converted by the
 * same converter real exports go through: nothing is downloaded, the same bytes on every machine.
 */
export function demoPackSource(preset: DemoPreset, shipped?: () => PackSource): Promise<PackSource> {
  if (preset === 'concept-world') {
    if (!shipped) return Promise.reject(new Error('this engine has no shipped concept-world pack; pick demo:tiny-sd15 or load a pack'));
    return Promise.resolve(shipped());
  }
  let source = built.get(preset);
  if (!source) {
    source = (async () => {
      const { files } = await forgeInMemory({ preset, seed: DEMO_SEED });
      const sink = new MemorySink();
      await convertExport(new MemoryPackSource(files), sink);
      return new MemoryPackSource(sink.files, { id: `demo:${preset}`, name: `built-in demo (${preset})` });
    })();
    source.catch(() => built.delete(preset));
    built.set(preset, source);
  }
  return source;
}
