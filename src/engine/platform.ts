import type { BlobCache } from '../model/cache/blob-cache.ts';
import type { OnnxRunner } from '../pipeline/onnx/runner.ts';
import type { StorageFacts } from '../model/fit-check.ts';
import type { PackSource } from '../model/sources/pack-source.ts';

/** Supplies the platform's GPU entry point: navigator.gpu in browsers, Dawn in Node. */
export type GpuProvider = () => Promise<GPU | undefined | null>;

/** What differs between the browser worker and Node (CLI, tests); everything else is shared. */
export interface EnginePlatform {
  gpu: GpuProvider;
  /** ORT on the engine's device (browser) or on the CPU (Node). */
  onnxRunner(device: GPUDevice): Promise<OnnxRunner>;
  blobCache(): Promise<BlobCache>;
  /** Storage quota and usage for the check before a download (default: navigator.storage.estimate(); tests inject a low quota). */
  storage?: () => Promise<StorageFacts | null>;
  /** The concept-world pack shipped with the app (served next to the studio; a folder of the repository in Node). */
  shippedDemoPack?: () => PackSource;
}
