/**
 * WebGPU in Node through Dawn (the `webgpu` package). Without a Vulkan driver (CI, most
 * servers) Dawn finds no adapter; then we point the Vulkan loader at SwiftShader, which
 * Debian's chromium package ships, and ask again.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn instances must outlive every adapter and device made from them.
const liveInstances: GPU[] = [];

export interface NodeGpuOptions {
  /** Skip the hardware attempt (tests want the same adapter everywhere). */
  forceSwiftShader?: boolean;
}

export async function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  // The Vulkan loader's WSI probing complains on stderr without it; we never present.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  const webgpu = await import('webgpu');
  // Dawn's globals (GPUBufferUsage, GPUMapMode, ...) are what WebGPU code expects to find.
  Object.assign(globalThis, webgpu.globals);
  const useSwiftShader = options.forceSwiftShader || process.env.LETHE_SWIFTSHADER === '1';
  if (!useSwiftShader) {
    const gpu = webgpu.create([]);
    liveInstances.push(gpu);
    if (await gpu.requestAdapter()) return gpu;
  }
  const icd = process.env.LETHE_VK_ICD ?? SWIFTSHADER_ICD;
  if (!existsSync(icd)) {
    throw new Error(
      `No WebGPU adapter found and SwiftShader's Vulkan driver is missing at ${icd}. ` +
        'On Debian: apt-get install chromium libvulkan1 (or set LETHE_VK_ICD to a Vulkan ICD json).',
    );
  }
  process.env.VK_ICD_FILENAMES = icd;
  const gpu = webgpu.create([]);
  liveInstances.push(gpu);
  return gpu;
}
