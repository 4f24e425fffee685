import type { EnginePlatform } from './platform.ts';
import { defaultBlobCache } from '../model/pack-opener.ts';
import { WebGpuOnnxRunner } from '../pipeline/onnx/web-runner.ts';
import { WebFolderSource } from '../model/sources/web-folder.ts';
import { CONCEPT_WORLD_PACK_DIR, SHIPPED_DEMO_DESCRIPTION, SHIPPED_DEMO_ID } from './demo-pack.ts';

/** The engine worker's platform: navigator.gpu, ORT-web on our device, OPFS cache. */
export const browserPlatform: EnginePlatform = {
  gpu: async () => (globalThis.navigator as Navigator | undefined)?.gpu,
  onnxRunner: async (device) => new WebGpuOnnxRunner(device),
  blobCache: () => defaultBlobCache(),
  shippedDemoPack: () =>
    new WebFolderSource(new URL(`${import.meta.env.BASE_URL}${CONCEPT_WORLD_PACK_DIR}/`, globalThis.location.origin).href, {
      id: SHIPPED_DEMO_ID,
      description: SHIPPED_DEMO_DESCRIPTION,
    }),
};
