/**
 * Smoke test for the device carry (see README.md): acquires a device the way the engine does in
 * Node, runs one matmul and compares it with a float64 CPU product. Prints one JSON line; exits
 * 1 on a mismatch, 2 when no device could be had. Shapes are deliberately not multiples of the
 * kernel's 64-wide tiles, so the edge handling is exercised too.
 */
import { GpuContext } from '../../src/gpu/context.ts';
import { acquireDevice } from '../../src/gpu/device.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { nodeGpu } from '../../src/gpu/node-gpu.ts';
import { SeededRandom } from '../../src/util/random.ts';

const M = 67;
const K = 45;
const N = 130;
// f32 accumulation over K=45 products of N(0,1) values: errors sit near 1e-7 relative to the
// largest entry; 1e-4 still catches any wrong index or missing tile edge by orders of magnitude.
const TOLERANCE = 1e-4;

function cpuProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
      out[i * n + j] = sum;
    }
  }
  return out;
}

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
    const random = new SeededRandom(20240611);
    const a = random.normalArray(M * K);
    const b = random.normalArray(K * N);
    const product = matmul(ctx, ctx.upload(a, [M, K]), ctx.upload(b, [K, N]));
    const gpu = await ctx.read(product);
    const reference = cpuProduct(a, b, M, K, N);
    let maxAbsError = 0;
    let maxReference = 0;
    for (let i = 0; i < reference.length; i++) {
      maxAbsError = Math.max(maxAbsError, Math.abs(gpu[i] - reference[i]));
      maxReference = Math.max(maxReference, Math.abs(reference[i]));
    }
    // Relative to the largest entry: entries near zero would make an elementwise ratio meaningless.
    const maxRelError = maxAbsError / maxReference;
    const ok = gpu.length === reference.length && Number.isFinite(maxRelError) && maxRelError <= TOLERANCE;
    console.log(
      JSON.stringify({
        ok,
        adapter: { vendor: report.vendor, architecture: report.architecture, description: report.description, software: report.software, shaderF16: report.shaderF16 },
        shape: [M, K, N],
        maxAbsError,
        maxRelError,
        tolerance: TOLERANCE,
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
