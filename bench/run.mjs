#!/usr/bin/env node
// `npm run bench`: serves the built bench page, runs it in headless Debian Chromium (WebGPU),
// prints the side-by-side table and writes it as JSON under bench/results/. The fine-tuning
// suites run in Node (the Node engine, on Dawn: SwiftShader unless a GPU is found), after the page:
// `fine-tune` (default) times each objective on the concept-world demo and tiny-sd15,
// `fine-tune-effect` (asked for by name; about 20 min on one SwiftShader core) also evaluates
// what each objective erases (bench/fine-tune-effect.node.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

const requested = process.argv.find((arg) => arg.startsWith('--suites='))?.slice(9);
const NODE_SUITES = ['fine-tune', 'fine-tune-effect'];
const nodeSuites = requested ? requested.split(',').filter((s) => NODE_SUITES.includes(s)) : ['fine-tune'];
const pageSuiteList = requested?.split(',').filter((s) => !NODE_SUITES.includes(s));
// The page runs its default suites when none is named; only Node suites named: no page at all.
const suites = pageSuiteList?.join(',');
const runPage = !requested || pageSuiteList.length > 0;
const server = runPage ? await preview({ logLevel: 'warn', preview: { host: '127.0.0.1', port: 4318, strictPort: false } }) : null;
const flag = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const query = new URLSearchParams();
if (suites) query.set('suites', suites);
if (flag('diffusers-endpoint')) query.set('endpoint', flag('diffusers-endpoint'));
if (flag('diffusers-repo')) query.set('repo', flag('diffusers-repo'));
// The true-scale suite: SD-sized pack folders (--packs=DIR,DIR) served by the tests' hub-style server.
const trueScale = suites?.split(',').includes('true-scale') ? await startTrueScaleHub(flag('packs')) : null;
if (trueScale) {
  query.set('endpoint', trueScale.hub.endpoint);
  query.set('repos', trueScale.repos.join(','));
  if (flag('stages')) query.set('stages', flag('stages'));
  // --size=N: generate at NxN when smaller than the largest size that fits; --train-latent=N: the training step's latent side;
  // --erase-templates=N: the erase writes each concept into the first N object templates (6 by default).
  for (const [name, multipleOf] of [['size', 64], ['train-latent', 8], ['erase-templates', 1]]) {
    if (!flag(name)) continue;
    if (!/^[1-9][0-9]*$/.test(flag(name)) || Number(flag(name)) % multipleOf !== 0) throw new Error(`--${name}=${flag(name)}: expected a positive multiple of ${multipleOf}`);
    query.set(name, flag(name));
  }
}
const url = runPage ? `${server.resolvedUrls.local[0]}bench.html${query.size ? `?${query}` : ''}` : '';
const launchOptions = { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: flags };
// Playwright's newPage() context is off the record: its OPFS lives in memory under a small quota,
// which a 4 GB pack overflows (StorageFullError mid-download). True-scale runs get a real profile on disk.
const profileDir = trueScale ? (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/lethe-true-scale-`) : null;
const browser = !runPage ? null : profileDir ? await chromium.launchPersistentContext(profileDir, launchOptions) : await chromium.launch(launchOptions);
let exitCode = 0;
try {
  const result = runPage ? await runBenchPage() : {};
  for (const suite of nodeSuites) {
    const out = `bench/results/${suite === 'fine-tune' ? 'fine-tune-speed' : 'fine-tune-effect'}.json`;
    const args = suite === 'fine-tune' ? ['--speed-only', '--speed-packs', 'demo:concept-world,demo:tiny-sd15'] : [];
    console.log(`\n${suite === 'fine-tune' ? 'Fine-tuning steps/s per objective' : 'What each fine-tuning objective erases'} (Node engine; bench/fine-tune-effect.node.ts ${args.join(' ')})`);
    const child = spawnSync(process.execPath, ['bin/run-ts.mjs', 'bench/fine-tune-effect.node.ts', ...args, '--out', out], { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`${suite}: bench/fine-tune-effect.node.ts exited with ${child.status ?? child.signal}`);
    result[suite === 'fine-tune' ? 'fineTuneSpeed' : 'fineTuneEffect'] = JSON.parse(readFileSync(out, 'utf8'));
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
  await browser?.close();
  await server?.close();
  if (profileDir) (await import('node:fs')).rmSync(profileDir, { recursive: true, force: true });
  trueScale?.memory.stop();
  await trueScale?.hub.close();
}
process.exit(exitCode);

/** The page's suites: runs bench.html, prints its tables, returns its result. */
async function runBenchPage() {
  const page = await browser.newPage();
  page.on('console', (message) => console.log(`  [page] ${message.text()}`));
  if (trueScale) {
    await page.exposeFunction('__letheStage', (name) => trueScale.memory.stage(name));
    await page.exposeFunction('__letheServePack', (repo) => trueScale.serve(repo));
  }
  await page.goto(url);
  await page.waitForFunction(() => window.__LETHE_BENCH__?.result || window.__LETHE_BENCH__?.error, null, { timeout: (trueScale ? 150 : 20) * 60_000, polling: 500 });
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
  if (result.trueScale) {
    const gib = (bytes) => (bytes / 2 ** 30).toFixed(2);
    const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
    console.log(`\nTrue scale in Chromium (maxBufferSize ${gib(result.trueScale.maxBufferSize)} GiB): per stage wall time, peak JS heap, peak GPU memory (Lethe's pool / every GPUBuffer on the device, ORT's included), OPFS bytes written, peak resident memory of all browser processes`);
    for (const pack of result.trueScale.packs) {
      for (const stage of pack.stages) stage.peakBrowserRssBytes = trueScale.memory.peaks.get(`${pack.pack}:${stage.stage}`) ?? null;
      console.log(`\n${pack.pack}: ${gib(pack.packBytes)} GiB; fit check: largest buffer ${mib(pack.fit.largestBufferBytes)} MiB (${pack.fit.largestBuffer}), GPU estimate ${gib(pack.fit.estimatedGpuBytes)} GiB, largest square size that fits ${pack.fit.largestFittingSide}`);
      if (pack.nativeSizeRefusal) console.log(`native size refused up front: ${pack.nativeSizeRefusal}`);
      console.table(pack.stages.map((row) => ({ stage: row.stage, 's': row.seconds.toFixed(1), 'JS heap MiB': mib(row.peakJsHeapBytes), 'pool MiB': mib(row.poolPeakBytes), 'GPU buffers MiB': mib(row.peakGpuBytes), 'OPFS written MiB': mib(row.opfsWrittenBytes), 'browser RSS GiB': row.peakBrowserRssBytes === null ? '-' : gib(row.peakBrowserRssBytes) })));
      for (const row of pack.stages) console.log(`  ${row.stage}: ${row.detail}`);
    }
  }
  return result;
}

/**
 * Serves each pack folder as repo lethe-bench/<folder name> on the tests' hub-style server, one
 * at a time (the page asks for the next; the previous one's bytes are dropped), and samples the
 * resident memory of this process's children (the browser's processes) once a second, per stage.
 */
async function startTrueScaleHub(packsFlag) {
  if (!packsFlag) throw new Error('--suites=true-scale needs --packs=DIR[,DIR]: pack folders made by `lethe forge --preset sd15-shapes` + `lethe convert`');
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { basename, join, relative } = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const { register } = await import('tsx/esm/api');
  register();
  const { HubServer } = await import('../tests/support/hub-server.ts');
  const hub = await HubServer.start();
  const folders = new Map(packsFlag.split(',').map((dir) => [`lethe-bench/${basename(dir)}`, dir]));
  const listFiles = (dir) => readdirSync(dir, { recursive: true }).map((name) => join(dir, String(name))).filter((path) => statSync(path).isFile());
  const serve = async (repo) => {
    const dir = folders.get(repo);
    if (!dir) throw new Error(`no pack folder for ${repo}`);
    for (const other of folders.keys()) hub.setRepo(other, new Map());
    hub.setRepo(repo, new Map(listFiles(dir).map((path) => [relative(dir, path), readFileSync(path)])));
  };
  const peaks = new Map();
  let current = '';
  const sample = () => {
    if (!current) return;
    const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' }).trim().split('\n').map((line) => line.trim().split(/\s+/).map(Number));
    const children = new Map();
    for (const [pid, ppid] of rows) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    const rss = new Map(rows.map(([pid, , kib]) => [pid, kib * 1024]));
    let total = 0;
    const stack = [...(children.get(process.pid) ?? [])];
    while (stack.length) {
      const pid = stack.pop();
      total += rss.get(pid) ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    peaks.set(current, Math.max(peaks.get(current) ?? 0, total));
  };
  const timer = setInterval(sample, 1000);
  return {
    hub,
    repos: [...folders.keys()],
    serve,
    memory: {
      peaks,
      stage(name) {
        sample();
        current = name;
        sample();
      },
      stop: () => clearInterval(timer),
    },
  };
}
