/**
 * Device acquisition and the adapter report the studio shows. Works on any `GPU` object:
 * `navigator.gpu` in browsers and workers, the `webgpu` package's in Node (see node-gpu.ts).
 */

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  /** SwiftShader / fallback adapters run on the CPU: fine for tests, too slow for real models. */
  software: boolean;
  shaderF16: boolean;
  timestampQuery: boolean;
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
}

export interface AcquiredDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
}

/** Smallest adapter Lethe can run SD 1.x/2.x on (the fp16 UNet's largest tensors, batch 2). */
export const RECOMMENDED_LIMITS = {
  maxBufferSize: 1 << 30,
  maxStorageBufferBindingSize: 1 << 30,
} as const;

/** Thrown when no usable adapter exists; `advice` says what the user can do. */
export class WebGpuUnavailableError extends Error {
  override readonly name = 'WebGpuUnavailableError';
  constructor(
    message: string,
    readonly advice: string[],
  ) {
    super(message);
  }
}

export const WEBGPU_ADVICE = [
  'Use a recent desktop Chrome or Edge (version 113 or later); WebGPU is on by default there.',
  'On Linux, start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan, or enable chrome://flags/#enable-unsafe-webgpu.',
  'Check chrome://gpu: "WebGPU: Hardware accelerated" should be listed; update the GPU driver if it is not.',
  'Firefox and Safari: enable WebGPU in their settings (dom.webgpu.enabled / Feature Flags), or use Chrome.',
];

export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const limits = adapter.limits;
  const features = [...adapter.features].map(String).sort();
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const description = info?.description ?? '';
  const isFallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter === true;
  return {
    vendor,
    architecture,
    description,
    software: isFallback || /swiftshader|llvmpipe|lavapipe|software/i.test(`${vendor} ${architecture} ${description}`),
    shaderF16: adapter.features.has('shader-f16'),
    timestampQuery: adapter.features.has('timestamp-query'),
    features,
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
  };
}

/** Problems that keep real SD models from running on this adapter, each with what to do. */
export function adapterProblems(report: AdapterReport): string[] {
  const problems: string[] = [];
  if (report.maxStorageBufferBindingSize < RECOMMENDED_LIMITS.maxStorageBufferBindingSize) {
    problems.push(
      `maxStorageBufferBindingSize is ${formatBytes(report.maxStorageBufferBindingSize)}; SD 1.x/2.x need ` +
        `${formatBytes(RECOMMENDED_LIMITS.maxStorageBufferBindingSize)}. The demo pack still works; for real models use a GPU with more memory or a browser that exposes the adapter's full limits.`,
    );
  }
  if (report.maxBufferSize < RECOMMENDED_LIMITS.maxBufferSize) {
    problems.push(
      `maxBufferSize is ${formatBytes(report.maxBufferSize)}; SD 1.x/2.x need ${formatBytes(RECOMMENDED_LIMITS.maxBufferSize)}.`,
    );
  }
  if (report.software) {
    problems.push(
      'This adapter runs on the CPU (software rendering): the demo pack works, real models will be very slow. Enable hardware acceleration in the browser settings and check chrome://gpu.',
    );
  }
  return problems;
}

/**
 * Requests the highest-performance adapter and a device with the adapter's own limits (the
 * defaults, 128-256 MiB buffers, are far too small for UNet weights) and the optional features
 * Lethe uses when present.
 */
export async function acquireDevice(gpu: GPU | undefined | null, label = 'lethe'): Promise<AcquiredDevice> {
  if (!gpu) throw new WebGpuUnavailableError('This browser does not expose WebGPU (navigator.gpu is missing).', WEBGPU_ADVICE);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGpuUnavailableError('WebGPU is present but no GPU adapter was found.', WEBGPU_ADVICE);
  const wanted: GPUFeatureName[] = ['shader-f16', 'timestamp-query'];
  const requiredFeatures = wanted.filter((feature) => adapter.features.has(feature));
  const limitNames = [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxStorageBuffersPerShaderStage',
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const name of limitNames) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ label, requiredFeatures, requiredLimits });
  return { adapter, device, report: describeAdapter(adapter) };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(bytes % (1 << 30) === 0 ? 0 : 1)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(bytes % (1 << 20) === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(0)} KiB`;
  return `${bytes} B`;
}
