#!/usr/bin/env node
// `npm run bench`: serves the built bench page, runs it in headless Debian Chromium (WebGPU),
// prints the side-by-side table and writes it as JSON under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const flags = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// A real GPU when the machine has one (LETHE_BENCH_ADAPTER=default); SwiftShader otherwise.
if (process.env.LETHE_BENCH_ADAPTER !== 'default') flags.push('--use-webgpu-adapter=swiftshader');

const server = await preview({ logLevel: 'warn', preview: { host: '127.0.0.1', port: 4318, strictPort: false } });
const suites = process.argv.find((arg) => arg.startsWith('--suites='))?.slice(9);
const flag = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const query = new URLSearchParams();
if (suites) query.set('suites', suites);
if (flag('diffusers-endpoint')) query.set('endpoint', flag('diffusers-endpoint'));
if (flag('diffusers-repo')) query.set('repo', flag('diffusers-repo'));
const url = `${server.resolvedUrls.local[0]}bench.html${query.size ? `?${query}` : ''}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: flags,
});
let exitCode = 0;
try {
  const page = await browser.newPage();
  page.on('console', (message) => console.log(`  [page] ${message.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__LETHE_BENCH__?.result || window.__LETHE_BENCH__?.error, null, { timeout: 20 * 60_000, polling: 500 });
  const outcome = await page.evaluate(() => window.__LETHE_BENCH__);
  if (outcome.error) throw new Error(outcome.error);
  const result = outcome.result;
  console.log(`\nAdapter: ${result.adapter.vendor} / ${result.adapter.architecture} / ${result.adapter.description}`);
  if (result.matmul.length) console.log('\nMatMul, fp32 (ratio = our throughput / onnxruntime-web WebGPU throughput, same device, same run)');
  if (result.matmul.length) console.table(
    result.matmul.map((row) => ({
      shape: row.shape,
      'ours ms': row.oursMs.toFixed(3),
      'ORT ms': row.ortMs.toFixed(3),
      'ours GFLOP/s': row.oursGflops.toFixed(1),
      'ORT GFLOP/s': row.ortGflops.toFixed(1),
      ratio: row.ratio.toFixed(2),
      'max |ours-ORT|': row.maxAbsDiff.toExponential(1),
      'rel err vs f64': row.maxRelErrorVsFloat64.toExponential(1),
    })),
  );
  if (result.unetStep) {
    console.log('\nUNet step, tiny-sd15, batch 2 (pieces chained with K/V projected once, vs the unsplit export in one ORT-web session)');
    const u = result.unetStep;
    console.table([{ 'pieces ms/step': u.chainMsPerStep.toFixed(2), 'unsplit ms/step': u.unsplitMsPerStep.toFixed(2), overhead: `${(u.overhead * 100).toFixed(1)}%` }]);
  }
  if (result.closedForm.length) {
    console.log('\nClosed-form edit at SD 1.5 dimensions (d=768, 32 projections, 1 concept + 5 corefs, M=5, N=3, 200 preserve prompts)');
    console.table(result.closedForm.map((row) => ({ path: row.label, device: row.device, solver: row.solver, 'median ms': row.ms.toFixed(1), runs: row.runs, 'rel. err': Number.isNaN(row.relativeError) ? '-' : row.relativeError.toExponential(1) })));
  }
  if (result.diffusersBuild) {
    const d = result.diffusersBuild;
    console.log(`\nPack built in the page from the diffusers repo ${d.repo}: ${d.seconds.toFixed(1)} s, pack ${(d.packBytes / 2 ** 20).toFixed(0)} MiB, peak JS heap ${(d.peakJsHeapBytes / 2 ** 20).toFixed(0)} MiB` + (d.peakPageBytes === null ? '' : `, peak page memory ${(d.peakPageBytes / 2 ** 20).toFixed(0)} MiB`));
  }
  if (result.training) {
    const t = result.training;
    const mib = (bytes) => (bytes / 2 ** 20).toFixed(2);
    console.log('\nTraining step, tiny-sd15, batch 1, 16x8 latent: K/V-LoRA forward + backward (loss read back every step), WGSL executor');
    console.table(t.steps.map((row) => ({ run: row.label, attention: row.fuseAttention ? 'fused' : 'unfused', mode: row.mode, segments: row.segments.join('/'), 'forward ms': row.forwardMs.toFixed(1), 'fwd+bwd ms/step': row.stepMs.toFixed(1), 'step peak MiB': mib(row.peakBytes), 'weights MiB': mib(row.weightsBytes) })));
    console.log(`Forward of the same pieces, same device: ours ${t.oursForwardMs.toFixed(1)} ms, onnxruntime-web ${t.ortForwardMs.toFixed(1)} ms, ours/ORT ${t.forwardRatio.toFixed(2)}`);
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(result, null, 2));
  writeFileSync('bench/results/latest.json', JSON.stringify(result, null, 2));
  console.log(`\nwritten: ${file}`);
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
} finally {
  await browser.close();
  await server.close();
}
process.exit(exitCode);
