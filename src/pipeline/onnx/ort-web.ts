/**
 * onnxruntime-web, configured once for Lethe: its WebGPU build, wasm served from our own origin
 * (transformers.js would otherwise point ORT at a CDN, and Lethe must work offline), and
 * sessions on the engine's own GPUDevice so tensors pass between ORT and our kernels as GPU
 * buffers. Import ORT only through this module.
 */
import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

ort.env.wasm.wasmPaths = { wasm: wasmUrl };
// One wasm thread: the WebGPU EP runs the graphs on the GPU, and ORT's pthread workers would be
// started from a bundled chunk of ours (Vite's preload helper touches `document`, which a
// worker lacks). Cross-origin isolation is still served for SharedArrayBuffer users.
ort.env.wasm.numThreads = 1;
// ORT reports shape ops it keeps on the CPU as warnings through console.error; only errors matter.
ort.env.logLevel = 'error';

export { ort };

export interface WebGpuSessionOptions {
  /** Keep outputs on the GPU (for chaining into the next piece or our kernels). */
  gpuOutputs?: boolean;
  freeDimensionOverrides?: Record<string, number>;
  externalData?: { path: string; data: Uint8Array }[];
}

export async function createWebGpuSession(model: Uint8Array, device: GPUDevice, options: WebGpuSessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: [{ name: 'webgpu', device }],
    preferredOutputLocation: options.gpuOutputs ? 'gpu-buffer' : 'cpu',
    freeDimensionOverrides: options.freeDimensionOverrides,
    externalData: options.externalData,
    graphOptimizationLevel: 'all',
  });
}

/** Wraps one of our GPU buffers as an ORT input without a copy. */
export function gpuInput(buffer: GPUBuffer, dims: readonly number[], dataType: 'float32' | 'float16' | 'int32' = 'float32'): ort.Tensor {
  return ort.Tensor.fromGpuBuffer(buffer, { dataType, dims });
}
