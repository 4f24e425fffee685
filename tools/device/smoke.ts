/**
 * Smoke test for the device carry (see README.md): acquires a device the way the engine does in
 * Node and runs the kernel self-test (src/gpu/self-test.ts: every kernel family against float64,
 * in f32 and, where the adapter has shader-f16, in f16). Prints one JSON line; exits 1 when a
 * check fails, 2 when no device could be had.
 */
import { GpuContext } from '../../src/gpu/context.ts';
import { acquireDevice } from '../../src/gpu/device.ts';
import { nodeGpu } from '../../src/gpu/node-gpu.ts';
import { selfTest } from '../../src/gpu/self-test.ts';

async function main(): Promise<number> {
  const started = performance.now();
  let acquired;
  try {
    acquired = await acquireDevice(await nodeGpu(), 'lethe-device-smoke');
  } catch (error) {
    console.log(JSON.stringify({ ok: false, stage: 'device', error: String(error) }));
    return 2;
  }
  const { report, device } = acquired;
  const ctx = new GpuContext(device);
  try {
    const checks = await selfTest(ctx);
    const ok = checks.length > 0 && checks.every((c) => c.passed);
    console.log(
      JSON.stringify({
        ok,
        adapter: { vendor: report.vendor, architecture: report.architecture, description: report.description, software: report.software, shaderF16: report.shaderF16 },
        checks: checks.map((c) => ({ name: c.name, maxRelError: c.maxRelError, passed: c.passed, ...(c.error ? { error: c.error } : {}) })),
        node: process.version,
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      }),
    );
    return ok ? 0 : 1;
  } finally {
    ctx.destroy();
  }
}

// Dawn can keep the event loop alive after the device is gone; the result is already printed.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.log(JSON.stringify({ ok: false, stage: 'run', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
    process.exit(1);
  },
);
