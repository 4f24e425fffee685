/**
 * The benchmark page (bench.html), driven by bench/run.mjs in headless Chromium. Measures our
 * kernels and onnxruntime-web's on the same GPUDevice, side by side, in one run.
 */
import { GpuContext } from '../src/gpu/context.ts';
import { acquireDevice, type AdapterReport } from '../src/gpu/device.ts';
import { benchMatmul, type MatmulBenchRow } from './matmul-bench.ts';

export interface BenchResult {
  adapter: AdapterReport;
  userAgent: string;
  matmul: MatmulBenchRow[];
}

declare global {
  interface Window {
    __LETHE_BENCH__?: { result?: BenchResult; error?: string };
  }
}

const status = document.getElementById('status')!;
const table = document.getElementById('table')!;
const log = (line: string) => {
  table.textContent += `${line}\n`;
  console.log(line);
};

async function main(): Promise<BenchResult> {
  const { device, report } = await acquireDevice(navigator.gpu, 'lethe-bench');
  const ctx = new GpuContext(device);
  log(`adapter: ${report.vendor} ${report.architecture} ${report.description}`);
  const matmul = await benchMatmul(ctx, log);
  return { adapter: report, userAgent: navigator.userAgent, matmul };
}

window.__LETHE_BENCH__ = {};
main().then(
  (result) => {
    window.__LETHE_BENCH__ = { result };
    status.textContent = 'done';
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
    window.__LETHE_BENCH__ = { error: message };
    status.textContent = `failed: ${message}`;
  },
);
