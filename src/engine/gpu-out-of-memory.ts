/**
 * A generation that ran out of GPU memory. The fit check catches buffers over the adapter's
 * limits before anything runs, but WebGPU does not say how much memory a GPU has, so the total
 * can still run out mid-run. What the caller would otherwise see is onnxruntime-web's
 * "[Invalid Buffer] is invalid due to a previous error": the allocation failed earlier, and its
 * error went to the device's uncapturederror event. This error says what happened and what to do.
 * The name is how the studio tells it apart (comlink keeps only name and message).
 */
import { formatBytes } from '../gpu/device.ts';
import type { FitReport } from '../model/fit-check.ts';

export class GpuOutOfMemoryError extends Error {
  override readonly name = 'GpuOutOfMemoryError';
}

export interface OutOfMemoryFacts {
  /** e.g. "Generating at 512x512". */
  readonly what: string;
  /** The device's out-of-memory messages, first one first. */
  readonly gpuMessages: readonly string[];
  /** The fit check's view of this size (null where it does not apply: onnxruntime on the CPU). */
  readonly fit: FitReport | null;
  /** The same check at a smaller size to suggest, when there is one. */
  readonly smaller: FitReport | null;
  readonly fp16: boolean;
}

export function generationOutOfMemory(facts: OutOfMemoryFacts): GpuOutOfMemoryError {
  const first = (facts.gpuMessages[0] ?? 'an allocation failed').split('\n')[0].trim();
  const more = facts.gpuMessages.length > 1 ? ` (and ${facts.gpuMessages.length - 1} more allocations)` : '';
  const estimate = facts.fit
    ? ` This pack's weights take ${formatBytes(facts.fit.weightBytes)} of GPU memory and ${facts.fit.width}x${facts.fit.height} needs about ${formatBytes(facts.fit.totalGpuBytes)} in all.`
    : '';
  const advice: string[] = [];
  if (facts.smaller) advice.push(`generate at ${facts.smaller.width}x${facts.smaller.height} (about ${formatBytes(facts.smaller.totalGpuBytes)})`);
  if (!facts.fp16) advice.push('load the fp16 pack of this model on a GPU with shader-f16 (half the memory)');
  advice.push('close other tabs and programs that use the GPU');
  return new GpuOutOfMemoryError(
    `${facts.what} ran out of GPU memory: ${first}${more}.${estimate} The GPU device was reset; the model reloads from the cache. What to do: ${advice.join('; or ')}.`,
  );
}
