#!/usr/bin/env node
// Builds `.device/`: everything a GPU machine without node or npm needs to run one Node-side
// TypeScript entry of Lethe. Usage: node tools/device/build-carry.mjs <entry.ts>
// See tools/device/README.md for what is inside and how the remote side calls it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(repoRoot, '.device');
const MIB = 1 << 20;
// The carry limit is 64 MiB; stay clear of it so a bigger bundle does not fail only remotely.
const SIZE_LIMIT = 60 * MIB;

const NODE_BINARY = process.execPath;
const WEBGPU_DIR = join(repoRoot, 'node_modules/webgpu');
const DAWN_BINARY = join(WEBGPU_DIR, 'dist/linux-x64/dawn.node');
// Dawn dlopens the Vulkan loader; images built for CUDA often ship the NVIDIA ICD without it.
const VULKAN_LOADER_CANDIDATES = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/x86_64-linux-gnu/libvulkan.so.1'];

// Heavy or browser-only packages: the remote side has none of them, so an entry must not need them.
const FORBIDDEN_EXTERNALS = ['onnxruntime-node', 'onnxruntime-web', '@huggingface/transformers', 'playwright-core'];
const EXTERNALS = ['webgpu', ...FORBIDDEN_EXTERNALS];

function fail(message) {
  console.error(`build-carry: ${message}`);
  process.exit(1);
}

const entryArg = process.argv[2];
if (!entryArg || process.argv.length > 3) fail('usage: node tools/device/build-carry.mjs <entry.ts>');
const entry = resolve(entryArg);
if (!existsSync(entry)) fail(`entry ${entryArg} does not exist`);
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the carry is for linux-x64; this node is ${process.platform}-${process.arch}`);
if (!existsSync(DAWN_BINARY)) fail(`${relative(repoRoot, DAWN_BINARY)} is missing (is the webgpu package installed?)`);

/** xz -9e of `source` into `target`, skipped when a stamp says this exact source was compressed. */
function compressCached(source, target) {
  const info = statSync(source);
  const stampPath = `${target}.source`;
  const stamp = JSON.stringify({ source, size: info.size, mtimeMs: info.mtimeMs });
  if (existsSync(target) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
    console.log(`reuse ${relative(repoRoot, target)} (source unchanged)`);
    return;
  }
  console.log(`compress ${source} -> ${relative(repoRoot, target)} (xz -9e: about a minute for node, seconds for the rest)`);
  rmSync(stampPath, { force: true });
  const compressed = execFileSync('xz', ['-9e', '-T2', '-c', source], { maxBuffer: 512 * MIB });
  writeFileSync(target, compressed);
  writeFileSync(stampPath, stamp);
}

/** Removes everything in .device but the (slow to make) compressed binaries and their stamps. */
function cleanOutDir() {
  mkdirSync(outDir, { recursive: true });
  const keep = new Set(['node.xz', 'node.xz.source', 'dawn.node.xz', 'dawn.node.xz.source']);
  for (const name of readdirSync(outDir)) {
    if (!keep.has(name)) rmSync(join(outDir, name), { recursive: true, force: true });
  }
}

/** `import text from './x.wgsl?raw'` becomes the file's text, as Vite and bin/raw-loader.mjs do. */
const rawTextPlugin = {
  name: 'raw-text',
  setup(build) {
    // Repo-relative paths: esbuild writes them into the bundle's comments.
    build.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: relative(repoRoot, resolve(args.resolveDir, args.path.slice(0, -'?raw'.length))),
      namespace: 'raw-text',
    }));
    build.onLoad({ filter: /.*/, namespace: 'raw-text' }, (args) => {
      const file = join(repoRoot, args.path);
      if (!existsSync(file)) return { errors: [{ text: `?raw import of ${args.path}: no such file` }] };
      return { contents: readFileSync(file, 'utf8'), loader: 'text', watchFiles: [file] };
    });
  },
};

/** Import chains (entry first) that reach each forbidden external, from esbuild's metafile. */
function forbiddenImports(metafile) {
  const importers = new Map();
  const hits = [];
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.external) {
        const name = FORBIDDEN_EXTERNALS.find((pkg) => imported.path === pkg || imported.path.startsWith(`${pkg}/`));
        if (name) hits.push({ file, path: imported.path, kind: imported.kind });
      } else if (!importers.has(imported.path)) {
        importers.set(imported.path, file);
      }
    }
  }
  return hits.map((hit) => {
    const chain = [hit.file];
    for (let at = importers.get(hit.file); at && !chain.includes(at); at = importers.get(at)) chain.unshift(at);
    return { ...hit, chain };
  });
}

async function bundle() {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: join(outDir, 'bundle.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNALS,
    plugins: [rawTextPlugin],
    // Bundled CommonJS dependencies call require(); ESM output has none unless we make one.
    banner: { js: "import { createRequire as __carryCreateRequire } from 'node:module';\nconst require = __carryCreateRequire(import.meta.url);" },
    // Paths in comments relative to the repo, so nothing in the bundle points at this checkout.
    absWorkingDir: repoRoot,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const hits = forbiddenImports(result.metafile);
  const fatal = hits.filter((hit) => hit.kind !== 'dynamic-import');
  for (const hit of hits) {
    const how = hit.kind === 'dynamic-import' ? 'dynamic import (fails only if reached)' : 'static import (the bundle cannot load)';
    console.error(`build-carry: ${hit.path} is not carried but is needed by a ${how}:\n  ${hit.chain.join('\n  -> ')}`);
  }
  if (fatal.length > 0) {
    rmSync(join(outDir, 'bundle.mjs'), { force: true });
    fail(`${relative(repoRoot, entry)} pulls in packages the device machine does not have (see above)`);
  }
}

/** The parts of the webgpu package its index.js needs at run time; dawn.node itself goes compressed. */
function layOutWebgpu() {
  const target = join(outDir, 'node_modules/webgpu');
  mkdirSync(join(target, 'dist/linux-x64'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(WEBGPU_DIR, 'package.json'), 'utf8'));
  if (pkg.main !== 'index.js' || pkg.type !== 'module') fail(`webgpu ${pkg.version}: expected main index.js of type module; check how it loads dawn.node`);
  // No scripts (postinstall would try to download) and no dependencies: index.js imports only node: modules.
  const runtimePackage = { name: pkg.name, version: pkg.version, type: pkg.type, main: pkg.main, license: pkg.license };
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(runtimePackage, null, 2)}\n`);
  const index = readFileSync(join(WEBGPU_DIR, 'index.js'), 'utf8');
  const bareImports = [...index.matchAll(/from\s+['"]([^'"]+)['"]/g)].map((match) => match[1]).filter((spec) => !spec.startsWith('node:') && spec !== 'module');
  if (bareImports.length > 0) fail(`webgpu/index.js now imports ${bareImports.join(', ')}; carry those too`);
  copyFileSync(join(WEBGPU_DIR, 'index.js'), join(target, 'index.js'));
  copyFileSync(join(WEBGPU_DIR, 'LICENSE.md'), join(target, 'LICENSE.md'));
}

function copyVulkanLoader() {
  const loader = VULKAN_LOADER_CANDIDATES.find((path) => existsSync(path));
  if (!loader) {
    console.warn('build-carry: no libvulkan.so.1 here to carry; the device machine must have its own Vulkan loader');
    return;
  }
  mkdirSync(join(outDir, 'lib'), { recursive: true });
  copyFileSync(loader, join(outDir, 'lib/libvulkan.so.1'));
}

function writeRunScript() {
  const path = join(outDir, 'run.sh');
  copyFileSync(join(repoRoot, 'tools/device/run.sh'), path);
  chmodSync(path, 0o755);
}

function carriedFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...carriedFiles(path));
    else files.push({ path: relative(outDir, path), bytes: statSync(path).size });
  }
  return files;
}

cleanOutDir();
await bundle();
compressCached(NODE_BINARY, join(outDir, 'node.xz'));
compressCached(DAWN_BINARY, join(outDir, 'dawn.node.xz'));
layOutWebgpu();
copyVulkanLoader();
writeRunScript();

const files = carriedFiles(outDir);
const total = files.reduce((sum, file) => sum + file.bytes, 0);
for (const file of files.sort((a, b) => b.bytes - a.bytes)) console.log(`${(file.bytes / MIB).toFixed(2).padStart(8)} MiB  .device/${file.path}`);
console.log(`${(total / MIB).toFixed(2).padStart(8)} MiB  total in ${files.length} files (limit ${SIZE_LIMIT / MIB} MiB)`);
if (total > SIZE_LIMIT) fail(`the carry is ${(total / MIB).toFixed(2)} MiB, over ${SIZE_LIMIT / MIB} MiB`);
