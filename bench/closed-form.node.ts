/**
 * The closed-form benchmark in Node: `npx tsx bench/closed-form.node.ts [--cpu-only]`.
 * The GPU rows use Dawn (the `webgpu` package) on whatever adapter it finds — SwiftShader, a
 * CPU, on machines without a GPU — so compare them with the browser bench page on real GPUs.
 */
import { register } from 'node:module';
import type { GpuContext } from '../src/gpu/context.ts';

// Kernels import their WGSL as `?raw` (a Vite feature): the CLI's loader gives Node the same.
register('../bin/raw-loader.mjs', import.meta.url);
const { GpuContext: Context } = await import('../src/gpu/context.ts');
const { acquireDevice } = await import('../src/gpu/device.ts');
const { nodeGpu } = await import('../src/gpu/node-gpu.ts');
const { benchClosedForm } = await import('./closed-form-bench.ts');

let ctx: GpuContext | undefined;
if (!process.argv.includes('--cpu-only')) {
  try {
    const { device, report } = await acquireDevice(await nodeGpu(), 'lethe-bench');
    ctx = new Context(device);
    console.log(`adapter: ${report.vendor} ${report.architecture} ${report.description}`);
  } catch (error) {
    console.log(`no WebGPU adapter (${(error as Error).message}); CPU rows only`);
  }
}
const rows = await benchClosedForm({ ctx, log: () => {} });
const header = ['path', 'device', 'solver', 'ms', 'runs', 'V^T rel. error'];
const table = rows.map((r) => [r.label, r.device, r.solver, r.ms.toFixed(1), String(r.runs), Number.isNaN(r.relativeError) ? '-' : r.relativeError.toExponential(1)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
for (const row of [header, widths.map((w) => '-'.repeat(w)), ...table]) console.log(row.map((cell, i) => (i >= 3 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
ctx?.destroy();
