import type { EnginePlatform } from './platform.ts';
import { defaultBlobCache } from '../model/pack-opener.ts';
import { WebGpuOnnxRunner } from '../pipeline/onnx/web-runner.ts';

/** The engine worker's platform: navigator.gpu, ORT-web on our device, OPFS cache. */
export const browserPlatform: EnginePlatform = {
  gpu: async () => (globalThis.navigator as Navigator | undefined)?.gpu,
  onnxRunner: async (device) => new WebGpuOnnxRunner(device),
  blobCache: () => defaultBlobCache(),
};
