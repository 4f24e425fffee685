import type { GpuDtype } from './dtype.ts';

/**
 * Compiles each (kernel, storage type, constants) combination once. WGSL files declare
 * their storage element type as `Elem`; the registry prepends the alias (and `enable f16`).
 */
export interface KernelSource {
  /** Unique name, used in pipeline labels and error messages. */
  name: string;
  wgsl: string;
}

export class KernelRegistry {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  pipeline(kernel: KernelSource, dtype: GpuDtype = 'f32', defines: Record<string, number | string> = {}): GPUComputePipeline {
    const defineKey = Object.entries(defines)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const key = `${kernel.name}|${dtype}|${defineKey}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: key, code: prelude(dtype, defines) + kernel.wgsl });
      pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, pipeline);
      this.compiled++;
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}

function prelude(dtype: GpuDtype, defines: Record<string, number | string>): string {
  const lines: string[] = [];
  if (dtype === 'f16') lines.push('enable f16;', 'alias Elem = f16;');
  else lines.push(`alias Elem = ${dtype};`);
  for (const [name, value] of Object.entries(defines)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`kernel define ${name}: use UPPER_SNAKE_CASE names`);
    lines.push(typeof value === 'number' ? `const ${name} = ${Number.isInteger(value) ? `${value}u` : `${value}f`};` : `const ${name} = ${value};`);
  }
  return lines.join('\n') + '\n';
}
