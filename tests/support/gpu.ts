import { GpuContext } from '../../src/gpu/context.ts';
import { acquireDevice, type AdapterReport } from '../../src/gpu/device.ts';
import { nodeGpu } from '../../src/gpu/node-gpu.ts';

let shared: Promise<{ ctx: GpuContext; report: AdapterReport }> | null = null;

/** One device per test process (Dawn start-up costs ~0.3 s). */
export function testGpu(): Promise<{ ctx: GpuContext; report: AdapterReport }> {
  shared ??= (async () => {
    const { device, report } = await acquireDevice(await nodeGpu(), 'lethe-tests');
    return { ctx: new GpuContext(device), report };
  })();
  return shared;
}

export async function testContext(): Promise<GpuContext> {
  return (await testGpu()).ctx;
}
