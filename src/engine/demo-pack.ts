import type { DemoPreset } from './api.ts';
import { convertExport, memorySource, MemorySink } from '../model/converter/index.ts';
import { forgeInMemory } from '../model/forge/forge.ts';
import { MemoryPackSource } from '../model/memory-source.ts';
import type { PackSource } from '../model/sources/pack-source.ts';

/** Seed of the built-in demo pack: fixed, so its files (and cache keys) never change. */
export const DEMO_SEED = 0;

const built = new Map<DemoPreset, Promise<PackSource>>();

/**
 * The built-in demo pack: a tiny SD model forged in memory in exactly the layout of a real
 * diffusers ONNX export, converted by the same converter real exports go through. Nothing is
 * downloaded; the same bytes come out on every machine.
 */
export function demoPackSource(preset: DemoPreset): Promise<PackSource> {
  let source = built.get(preset);
  if (!source) {
    source = (async () => {
      const { files } = await forgeInMemory({ preset, seed: DEMO_SEED });
      const sink = new MemorySink();
      await convertExport(memorySource(files), sink);
      return new MemoryPackSource(sink.files, { id: `demo:${preset}`, name: `built-in demo (${preset})` });
    })();
    source.catch(() => built.delete(preset));
    built.set(preset, source);
  }
  return source;
}
