import { fileURLToPath } from 'node:url';
import { Engine } from './engine.ts';
import type { EnginePlatform } from './platform.ts';
import { nodeGpu, type NodeGpuOptions } from '../gpu/node-gpu.ts';
import type { BlobCache } from '../model/cache/blob-cache.ts';
import { defaultBlobCache } from '../model/pack-opener.ts';
import { NodeFolderSource } from '../model/sources/node-folder.ts';
import { CONCEPT_WORLD_PACK_DIR } from './demo-pack.ts';

export interface NodeEngineOptions extends NodeGpuOptions {
  /** Default: ~/.cache/lethe or $LETHE_CACHE_DIR. */
  cache?: BlobCache;
}

/** Node's platform: Dawn (SwiftShader when no GPU), onnxruntime-node, a cache directory. */
export function nodePlatform(options: NodeEngineOptions = {}): EnginePlatform {
  return {
    gpu: () => nodeGpu(options),
    onnxRunner: async () => new (await import('../pipeline/onnx/node-runner.ts')).NodeOnnxRunner(),
    blobCache: async () => options.cache ?? defaultBlobCache(),
    shippedDemoPack: () => new NodeFolderSource(fileURLToPath(new URL(`../../public/${CONCEPT_WORLD_PACK_DIR}/`, import.meta.url))),
  };
}

/** The engine as the CLI and Node tests use it. */
export async function createNodeEngine(options: NodeEngineOptions = {}): Promise<Engine> {
  const engine = new Engine(nodePlatform(options));
  const status = await engine.init();
  if (status.state !== 'ready') throw new Error(`${status.message}\n${status.advice.join('\n')}`);
  return engine;
}
