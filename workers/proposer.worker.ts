/// <reference lib="webworker" />
/**
 * The concept proposer's worker: WordNet lookups and hub LLMs (transformers.js on its own WebGPU
 * device), away from the page and from the engine's GPU queue. The UI talks to it through
 * comlink, like the engine worker.
 */
import * as Comlink from 'comlink';
import { ProposerService } from '../src/erasure/proposer/proposer-service.ts';

const service = new ProposerService({
  // Sets onnxruntime-web's wasm path to the bundled file before transformers.js would point it
  // at a CDN (it only does so when no path is set).
  prepareTransformers: async () => {
    await import('../src/pipeline/onnx/ort-web.ts');
  },
  // 4-bit weights with f16 activations need shader-f16; without it, q4 with f32 activations.
  transformersTarget: async () => {
    const adapter = await (globalThis.navigator as Navigator | undefined)?.gpu?.requestAdapter();
    if (!adapter) throw new Error('This browser has no WebGPU adapter, which the hub model backend needs; use WordNet instead.');
    return { device: 'webgpu', dtype: adapter.features.has('shader-f16') ? 'q4f16' : 'q4' };
  },
});

Comlink.expose(service);
