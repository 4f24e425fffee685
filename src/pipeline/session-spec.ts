import type { OnnxModelEntry } from '../model/manifest.ts';
import type { PackReader } from '../model/pack-reader.ts';
import type { SessionSpec } from './onnx/runner.ts';

/** Reads a graph and its external data files; locations are relative to the graph's folder. */
export async function sessionSpecOf(pack: PackReader, entry: OnnxModelEntry, gpuOutputs: string[] = [], fixed: Record<`${string}:${number}`, number> = {}): Promise<SessionSpec> {
  const folder = entry.file.includes('/') ? entry.file.slice(0, entry.file.lastIndexOf('/') + 1) : '';
  const externalData = await Promise.all(
    entry.externalData.map(async (file) => ({ path: file.startsWith(folder) ? file.slice(folder.length) : file, data: await pack.bytes(file) })),
  );
  return { name: entry.file, model: await pack.bytes(entry.file), externalData, gpuOutputs, freeDimensionOverrides: fixedDimensions(entry, fixed) };
}

/**
 * freeDimensionOverrides for the symbolic input dims named in `fixed` by position: e.g. the text
 * encoder's token axis is always 77. Batch and latent size stay free: one session then serves
 * guidance on and off and every image size, without a second copy of the weights on the GPU.
 */
export function fixedDimensions(entry: OnnxModelEntry, fixed: Record<`${string}:${number}`, number>): Record<string, number> {
  const overrides: Record<string, number> = {};
  for (const input of entry.inputs) {
    input.shape.forEach((dim, axis) => {
      const key = `${input.name}:${axis}` as const;
      if (typeof dim === 'string' && fixed[key] !== undefined) overrides[dim] = fixed[key];
    });
  }
  return overrides;
}
