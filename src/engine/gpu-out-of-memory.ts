/**
 * A generation that ran out of GPU memory. The fit check catches buffers over the adapter's
 * limits before anything runs, but WebGPU does not say how much memory a GPU has, so the total
 * can still run out mid-run. What the caller would otherwise see is onnxruntime-web's
 * "[Invalid Buffer] is invalid due to a previous error": the allocation failed earlier, and its
 * error went to the device's uncapturederror event. This error says what happened and what to do.
 * The name is how the studio tells it apart (comlink keeps only name and message).
 */
import { formatBytes } from '../gpu/device.ts';
import { checkPackFit, type FitAdapter, type FitReport } from '../model/fit-check.ts';
import type { PackManifest } from '../model/manifest.ts';

export class GpuOutOfMemoryError extends Error {
  override readonly name = 'GpuOutOfMemoryError';
}

export interface OutOfMemoryFacts {
  readonly manifest: PackManifest;
  /** The adapter the fit check reads (null: none reported). */
  readonly adapter: FitAdapter | null;
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  /** The device's out-of-memory messages, first one first. */
  readonly gpuMessages: readonly string[];
  /** The fit check's view of this size (null where it does not apply: onnxruntime on the CPU). */
  readonly fit: FitReport | null;
}

export function generationOutOfMemory(facts: OutOfMemoryFacts): GpuOutOfMemoryError {
  const first = (facts.gpuMessages[0] ?? 'an allocation failed').split('\n')[0].trim();
  const more = facts.gpuMessages.length > 1 ? ` (and ${facts.gpuMessages.length - 1} more allocations)` : '';
  const estimate = facts.fit
    ? ` This pack's weights take ${formatBytes(facts.fit.weightBytes)} of GPU memory and ${facts.fit.width}x${facts.fit.height} needs about ${formatBytes(facts.fit.totalGpuBytes)} in all.`
    : '';
  // Half the size, in 64-px steps, as the fit check estimates it.
  const half = (side: number) => Math.max(64, Math.floor(side / 2 / 64) * 64);
  const smaller =
    facts.adapter && Math.max(facts.width, facts.height) > 64
      ? checkPackFit({ manifest: facts.manifest, adapter: facts.adapter, storage: null, width: half(facts.width), height: half(facts.height), batch: facts.batch, mode: 'generate' })
      : null;
  const advice: string[] = [];
  if (smaller) advice.push(`generate at ${smaller.width}x${smaller.height} (about ${formatBytes(smaller.totalGpuBytes)})`);
  if (facts.manifest.dtype !== 'fp16') advice.push('load the fp16 pack of this model on a GPU with shader-f16 (half the memory)');
  advice.push('close other tabs and programs that use the GPU');
  return new GpuOutOfMemoryError(
    `Generating at ${facts.width}x${facts.height} ran out of GPU memory: ${first}${more}.${estimate} The GPU device was reset; the model reloads from the cache. What to do: ${advice.join('; or ')}.`,
  );
}
