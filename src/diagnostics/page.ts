/**
 * checks.html: runs correctness checks on this browser's WebGPU with the real runtime
 * (ORT-web WebGPU on our device). Results go to the page and to window.__LETHE_CHECKS__.
 */
import { GpuContext } from '../gpu/context.ts';
import { acquireDevice } from '../gpu/device.ts';
import { WebGpuOnnxRunner } from '../pipeline/onnx/web-runner.ts';
import { checkPackParity, type ParityRow } from './pack-parity.ts';

declare global {
  interface Window {
    __LETHE_CHECKS__?: { rows?: ParityRow[]; skipped?: string[]; error?: string };
  }
}

const status = document.getElementById('status')!;
const log = document.getElementById('log')!;

async function main(): Promise<{ rows: ParityRow[]; skipped: string[] }> {
  const { device, report } = await acquireDevice(navigator.gpu, 'lethe-checks');
  const ctx = new GpuContext(device);
  const runner = new WebGpuOnnxRunner(device);
  const rows: ParityRow[] = [];
  const skipped: string[] = [];
  for (const preset of ['tiny-sd15', 'tiny-sd21'] as const) {
    for (const dtype of ['fp32', 'fp16'] as const) {
      if (dtype === 'fp16' && !report.shaderF16) {
        skipped.push(`${preset} fp16: adapter "${report.description || report.architecture}" lacks shader-f16`);
        continue;
      }
      const row = await checkPackParity(ctx, runner, preset, dtype);
      rows.push(row);
      log.textContent += `${row.passed ? 'ok  ' : 'FAIL'} ${preset} ${dtype}: max |pack - export| ${row.maxAbsDiff.toExponential(2)} (tolerance ${row.tolerance.toExponential(1)}, outputs up to ${row.maxAbsValue.toFixed(2)})\n`;
    }
  }
  for (const line of skipped) log.textContent += `skip ${line}\n`;
  return { rows, skipped };
}

window.__LETHE_CHECKS__ = {};
main().then(
  (result) => {
    window.__LETHE_CHECKS__ = result;
    status.textContent = result.rows.every((row) => row.passed) ? 'all checks passed' : 'some checks FAILED';
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
    window.__LETHE_CHECKS__ = { error: message };
    status.textContent = `failed: ${message}`;
  },
);
