import type { OnnxModelEntry, PackManifest } from '../model/manifest.ts';
import type { SessionSpec } from './onnx/runner.ts';

/** What the pipeline needs of a loaded pack (PackFiles from the loader satisfies it). */
export interface PackReader {
  readonly manifest: PackManifest;
  bytes(path: string): Promise<Uint8Array>;
}

/** Reads a graph and its external data files; locations are relative to the graph's folder. */
export async function sessionSpecOf(pack: PackReader, entry: OnnxModelEntry, gpuOutputs: string[] = []): Promise<SessionSpec> {
  const folder = entry.file.includes('/') ? entry.file.slice(0, entry.file.lastIndexOf('/') + 1) : '';
  const externalData = await Promise.all(
    entry.externalData.map(async (file) => ({ path: file.startsWith(folder) ? file.slice(folder.length) : file, data: await pack.bytes(file) })),
  );
  return { name: entry.file, model: await pack.bytes(entry.file), externalData, gpuOutputs };
}
