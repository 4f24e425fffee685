/**
 * Every `lethe` command against every class of bad input that applies to it, in-process through
 * main(). Each cell must end with exactly one line `lethe <command>: ...` on stderr matching what
 * the cell expects, the documented exit code, no stack trace, no output left behind (not even a
 * hidden temporary), and a cache whose every blob still hashes to its name. The table
 * (command x input class -> code, message) is printed at the end.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { COMMANDS, main } from '../../src/cli/main.ts';
import { EXIT_CODES } from '../../src/cli/failure.ts';

const dir = mkdtempSync(join(tmpdir(), 'lethe-faults-'));
const path = (...parts: string[]) => join(dir, ...parts);
const WARM_CACHE = path('cache');
process.env.LETHE_CACHE_DIR = WARM_CACHE;
process.env.LETHE_SWIFTSHADER = '1';

/** A server's error page where a model file or JSON was expected. */
const HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n';
/** Seeded, so a failure reproduces. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

interface Cell {
  command: string;
  /** The input class (a column of the printed table). */
  input: string;
  args: () => string[];
  code: number;
  /** What the one failure line must say (after `lethe <command>: `). */
  message: RegExp;
  env?: Record<string, string>;
  /** Paths that must not exist afterwards (the outputs the command was asked for). */
  noOutput?: string[];
  /** A cache to check blob by blob afterwards (default: the warm one). */
  cache?: string;
}

interface Ran {
  code: number;
  stderr: string;
  stdout: string;
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const err: string[] = [];
  const out: string[] = [];
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  vi.spyOn(console, 'log').mockImplementation((...parts) => void out.push(parts.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...parts) => void err.push(parts.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  try {
    const code = await main(args);
    return { code, stderr: err.join('\n'), stdout: out.join('\n') };
  } finally {
    vi.restoreAllMocks();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Every complete blob hashes to its name; partial downloads are allowed (they are resumed, never read as blobs). */
function corruptBlobs(cache: string): string[] {
  const blobs = join(cache, 'blobs');
  if (!existsSync(blobs) || !readdirSync(join(cache)).includes('blobs')) return [];
  const bad: string[] = [];
  for (const name of readdirSync(blobs)) {
    if (name.endsWith('.partial')) continue;
    const actual = createHash('sha256').update(readFileSync(join(blobs, name))).digest('hex');
    if (actual !== name) bad.push(name);
  }
  return bad;
}

/** Hidden temporaries that atomic writes use: none may survive a failure. */
function leftovers(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).filter((name) => name.includes('.partial')) : [];
}

/** A copy of a folder with one file replaced (or removed). */
function variant(from: string, name: string, file: string, content: Uint8Array | string | null | { truncate: number }): string {
  const to = path('variants', name);
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
  if (content === null) rmSync(join(to, file));
  else if (typeof content === 'object' && 'truncate' in content) truncateSync(join(to, file), content.truncate);
  else writeFileSync(join(to, file), content);
  return to;
}

function file(name: string, content: Uint8Array | string): string {
  mkdirSync(path('inputs'), { recursive: true });
  writeFileSync(path('inputs', name), content);
  return path('inputs', name);
}

const half = (p: string) => ({ truncate: Math.floor(readFileSync(p).length / 2) });
const missing = () => path('no', 'such', 'thing');

/** Fresh (empty) cache folders, so a damaged pack file is read from the folder rather than found by hash. */
let freshCaches = 0;
const freshCache = () => path(`fresh-cache-${freshCaches++}`);

// Fixtures, made by the CLI itself in beforeAll.
const EXPORT = path('export');
const PACK = path('pack');
const DIFFUSERS = path('diffusers');
const RECIPE = path('recipe.json');
const SD21_RECIPE = path('recipe-sd21.json');
const SD21_LORA = path('lora-sd21.safetensors');
const SD15_LORA = path('lora-sd15.safetensors');
const A_FILE = path('a-file');

function cells(): Cell[] {
  const out = (name: string) => path('out', name);
  const underFile = (name: string) => join(A_FILE, name);
  const packArgs = (pack: string) => ['--pack', pack, '--prompt', 'a photo of a cat', '--steps', '2', '--out', out('image.png')];
  const list: Cell[] = [];
  const add = (command: string, input: string, args: () => string[], code: number, message: RegExp, extra: Partial<Cell> = {}) =>
    list.push({ command, input, args, code, message, ...extra });

  // forge: no input files; flags and the output folder.
  add('forge', 'malformed flag', () => ['forge', '--preset', 'tiny-sd15', '--seed', 'abc', '--out', out('forged')], 2, /--seed must be an integer/);
  add('forge', 'out-of-range flag', () => ['forge', '--preset', 'tiny-sd15', '--seed=-1', '--out', out('forged')], 2, /--seed must be an integer in \[0, /);
  add('forge', 'unknown value', () => ['forge', '--preset', 'sd9', '--out', out('forged')], 2, /--preset must be one of tiny-sd15/);
  add('forge', 'missing flag', () => ['forge', '--preset', 'tiny-sd15'], 2, /--out is required/);
  add('forge', 'unwritable output', () => ['forge', '--preset', 'tiny-sd15', '--out', underFile('forged')], 4, /--out .*cannot create its folder/, { noOutput: [underFile('forged')] });
  add('forge', 'output is a file', () => ['forge', '--preset', 'tiny-sd15', '--out', A_FILE], 4, /--out .* is a file; give a folder/);

  // convert: an ONNX export folder in, a pack folder out.
  const convert = (input: string, name = 'converted') => () => ['convert', '--in', input, '--out', out(name)];
  const noPack = { noOutput: [out('converted')] };
  add('convert', 'missing path', convert(missing()), 3, /--in .*: no such folder/, noPack);
  add('convert', 'empty folder', convert(path('empty')), 3, /unet\/model\.onnx: \(file\): missing from the export/, noPack);
  add('convert', 'truncated file', () => convert(variant(EXPORT, 'export-truncated', 'unet/model.onnx', half(join(EXPORT, 'unet/model.onnx'))))(), 1, /unet\/model\.onnx/, noPack);
  add('convert', 'random bytes', () => convert(variant(EXPORT, 'export-random', 'unet/model.onnx', randomBytes(4096, 1)))(), 1, /unet\/model\.onnx/, noPack);
  add('convert', 'empty file', () => convert(variant(EXPORT, 'export-empty', 'unet/model.onnx', ''))(), 1, /unet\/model\.onnx/, noPack);
  add('convert', 'HTML page', () => convert(variant(EXPORT, 'export-html', 'unet/model.onnx', HTML_PAGE))(), 1, /unet\/model\.onnx: protobuf: not a valid ONNX/, noPack);
  add('convert', 'wrong kind', convert(PACK), 3, /missing from the export/, noPack);
  add('convert', 'malformed flag', () => ['convert', '--in', EXPORT, '--out', out('converted'), '--plan', 'halves'], 2, /--plan must be one of/, noPack);
  add('convert', 'unwritable output', () => ['convert', '--in', EXPORT, '--out', underFile('converted')], 4, /--out .*cannot create its folder/);

  // pack: a diffusers repo (configs + safetensors) in, a pack folder out.
  const pack = (from: string) => () => ['pack', '--from', from, '--out', out('packed')];
  const noPacked = { noOutput: [out('packed')] };
  const unet = 'unet/diffusion_pytorch_model.safetensors';
  add('pack', 'missing path', pack(missing()), 2, /--from .* is neither a directory nor a hub repo id/, noPacked);
  add('pack', 'empty folder', pack(path('empty')), 3, /model_index\.json: \(file\): missing from the repo/, noPacked);
  add('pack', 'truncated file', () => pack(variant(DIFFUSERS, 'diffusers-truncated', unet, half(join(DIFFUSERS, unet))))(), 1, /diffusion_pytorch_model\.safetensors/, noPacked);
  add('pack', 'random bytes', () => pack(variant(DIFFUSERS, 'diffusers-random', unet, randomBytes(4096, 2)))(), 1, /diffusion_pytorch_model\.safetensors/, noPacked);
  add('pack', 'empty file', () => pack(variant(DIFFUSERS, 'diffusers-empty', unet, ''))(), 1, /diffusion_pytorch_model\.safetensors/, noPacked);
  add('pack', 'HTML page', () => pack(variant(DIFFUSERS, 'diffusers-html', 'model_index.json', HTML_PAGE))(), 1, /model_index\.json/, noPacked);
  add('pack', 'wrong kind', pack(EXPORT), 1, /_class_name: expected StableDiffusionPipeline .* got "OnnxStableDiffusionPipeline"/, noPacked);
  add('pack', 'malformed flag', () => ['pack', '--from', DIFFUSERS, '--out', out('packed'), '--dtype', 'fp8'], 2, /--dtype must be one of fp16, fp32/, noPacked);
  add('pack', 'unwritable output', () => ['pack', '--from', DIFFUSERS, '--out', underFile('packed')], 4, /--out .*cannot create its folder/);

  // tokenize: a tokenizer folder in.
  const tokenizer = (folder: string) => () => ['tokenize', '--tokenizer', folder, 'a photo of a cat'];
  const tok = join(EXPORT, 'tokenizer');
  add('tokenize', 'missing path', tokenizer(missing()), 3, /vocab\.json is missing/);
  add('tokenize', 'empty file', () => tokenizer(variant(tok, 'tok-empty', 'vocab.json', ''))(), 1, /vocab\.json/);
  add('tokenize', 'truncated file', () => tokenizer(variant(tok, 'tok-truncated', 'vocab.json', half(join(tok, 'vocab.json'))))(), 1, /vocab\.json/);
  add('tokenize', 'random bytes', () => tokenizer(variant(tok, 'tok-random', 'vocab.json', randomBytes(2048, 3)))(), 1, /vocab\.json.*not a text file/);
  add('tokenize', 'HTML page', () => tokenizer(variant(tok, 'tok-html', 'vocab.json', HTML_PAGE))(), 1, /vocab\.json/);
  add('tokenize', 'wrong kind', tokenizer(PACK), 3, /vocab\.json is missing/);
  add('tokenize', 'missing flag', () => ['tokenize', '--tokenizer', tok], 2, /give at least one TEXT/);

  // generate: a pack (folder), a recipe, a LoRA in; a PNG out.
  const noImage = { noOutput: [out('image.png')] };
  const damagedPack = (name: string, file: string, content: Parameters<typeof variant>[3]) => {
    const cache = freshCache();
    return { args: () => ['generate', ...packArgs(variant(PACK, name, file, content))], extra: { ...noImage, env: { LETHE_CACHE_DIR: cache }, cache } };
  };
  const generateCell = (input: string, damaged: ReturnType<typeof damagedPack>, code: number, message: RegExp) => add('generate', input, damaged.args, code, message, damaged.extra);
  add('generate', 'missing path', () => ['generate', ...packArgs(missing())], 3, /--pack .*: no such folder/, noImage);
  add('generate', 'empty folder', () => ['generate', ...packArgs(path('empty'))], 3, /file not found: manifest\.json .*not a Lethe pack/, noImage);
  generateCell('truncated file', damagedPack('pack-truncated', 'unet/down.onnx.data', { truncate: 100 }), 1, /unet\/down\.onnx\.data .*expected \d+ bytes, got 100.*does not match its manifest/);
  generateCell('random bytes', damagedPack('pack-random', 'manifest.json', randomBytes(1024, 4)), 1, /manifest\.json/);
  generateCell('HTML page', damagedPack('pack-html', 'manifest.json', HTML_PAGE), 1, /manifest\.json/);
  generateCell('empty file', damagedPack('pack-empty', 'manifest.json', ''), 1, /manifest\.json/);
  generateCell('truncated manifest', damagedPack('pack-truncated-manifest', 'manifest.json', { truncate: 200 }), 1, /manifest\.json/);
  generateCell('missing pack file', damagedPack('pack-missing-file', 'unet/mid.onnx', null), 3, /file not found: unet\/mid\.onnx/);
  const withRecipe = (recipe: string) => () => ['generate', ...packArgs(PACK), '--recipe', recipe];
  add('generate', 'recipe: missing path', withRecipe(missing()), 3, /--recipe: cannot read .*no such file/, noImage);
  add('generate', 'recipe: empty file', () => withRecipe(file('empty.json', ''))(), 1, /recipe|JSON/i, noImage);
  add('generate', 'recipe: truncated file', () => withRecipe(file('half-recipe.json', readFileSync(RECIPE, 'utf8').slice(0, 40)))(), 1, /recipe|JSON/i, noImage);
  add('generate', 'recipe: random bytes', () => withRecipe(file('random.json', randomBytes(512, 5)))(), 1, /--recipe: .* is not a text file/, noImage);
  add('generate', 'recipe: HTML page', () => withRecipe(file('page.json', HTML_PAGE))(), 1, /recipe|JSON/i, noImage);
  add('generate', 'recipe: wrong kind (other pack)', withRecipe(SD21_RECIPE), 1, /pack/, noImage);
  const withLora = (lora: string) => () => ['generate', ...packArgs(PACK), '--lora', lora];
  add('generate', 'LoRA: missing path', withLora(missing()), 3, /--lora: cannot read .*no such file/, noImage);
  add('generate', 'LoRA: empty file', () => withLora(file('empty.safetensors', ''))(), 1, /safetensors/, noImage);
  add('generate', 'LoRA: truncated file', () => withLora(file('half.safetensors', readFileSync(SD15_LORA).subarray(0, 300)))(), 1, /safetensors/, noImage);
  add('generate', 'LoRA: random bytes', () => withLora(file('random.safetensors', randomBytes(4096, 6)))(), 1, /safetensors/, noImage);
  add('generate', 'LoRA: HTML page', () => withLora(file('page.safetensors', HTML_PAGE))(), 1, /safetensors|HTML/i, noImage);
  add('generate', 'LoRA: wrong kind (SD 2 on SD 1)', withLora(SD21_LORA), 1, /SD ?2|1024|768|width|dimension/i, noImage);
  const generateFlags = (...flags: string[]) => () => ['generate', ...packArgs(PACK), ...flags];
  add('generate', 'out-of-range flag', generateFlags('--steps', '0'), 2, /--steps must be an integer in \[1, 1000\], got "0"/, noImage);
  add('generate', 'malformed flag', generateFlags('--seed', 'x'), 2, /--seed must be an integer/, noImage);
  add('generate', 'out-of-range number', generateFlags('--guidance', '999'), 2, /--guidance must be a number in \[1, 50\]/, noImage);
  add('generate', 'unknown value', generateFlags('--scheduler', 'plms'), 2, /--scheduler must be one of/, noImage);
  add('generate', 'missing flag', () => ['generate', '--pack', PACK, '--out', out('image.png')], 2, /--prompt is required/, noImage);
  add('generate', 'unwritable output', () => ['generate', ...packArgs(PACK).slice(0, -1), underFile('image.png')], 4, /--out .*is a file, not a folder/);
  add('generate', 'output is a folder', () => ['generate', ...packArgs(PACK).slice(0, -1), path('out')], 4, /--out .* is a folder; give a file name/);
  const fullCache = freshCache();
  add('generate', 'cache full (quota)', () => ['generate', ...packArgs(PACK)], 5, /cache .* is full/, {
    ...noImage,
    env: { LETHE_CACHE_DIR: fullCache, LETHE_CACHE_MAX_BYTES: '200000' },
    cache: fullCache,
  });
  add('generate', 'cache unwritable', () => ['generate', ...packArgs(PACK)], 5, /cache .* cannot be written/, { ...noImage, env: { LETHE_CACHE_DIR: A_FILE } });

  // erase: a pack and a preserve list in; a recipe (and weights, a dump) out.
  const eraseArgs = (pack: string, ...more: string[]) => ['erase', '--pack', pack, '--concept', 'cat', '--out', out('recipe.json'), ...more];
  const noRecipe = { noOutput: [out('recipe.json'), out('weights.safetensors')] };
  add('erase', 'missing path', () => eraseArgs(missing()), 3, /--pack .*: no such folder/, noRecipe);
  const truncatedCache = freshCache();
  add('erase', 'truncated file', () => eraseArgs(variant(PACK, 'erase-truncated', 'unet/cross_attention.safetensors', { truncate: 64 })), 1, /cross_attention\.safetensors .*does not match/, {
    ...noRecipe,
    env: { LETHE_CACHE_DIR: truncatedCache },
    cache: truncatedCache,
  });
  add('erase', 'HTML page', () => eraseArgs(variant(PACK, 'erase-html', 'manifest.json', HTML_PAGE)), 1, /manifest\.json/, { ...noRecipe, env: { LETHE_CACHE_DIR: freshCache() } });
  add('erase', 'preserve list: missing path', () => eraseArgs(PACK, '--preserve-file', missing()), 3, /--preserve-file: cannot read .*no such file/, noRecipe);
  add('erase', 'preserve list: random bytes', () => eraseArgs(PACK, '--preserve-file', file('random.txt', randomBytes(512, 7))), 1, /--preserve-file: .* is not a text file/, noRecipe);
  add('erase', 'preserve list: empty file', () => eraseArgs(PACK, '--preserve-file', file('empty.txt', '')), 2, /--preserve-file: .* lists no concepts/, noRecipe);
  add('erase', 'unknown value', () => eraseArgs(PACK, '--method', 'esd'), 2, /--method: expected one of/, noRecipe);
  add('erase', 'malformed flag', () => eraseArgs(PACK, '--lambda', 'abc'), 2, /--lambda/, noRecipe);
  add('erase', 'missing flag', () => ['erase', '--pack', PACK, '--out', out('recipe.json')], 2, /--concept/, noRecipe);
  add('erase', 'unwritable output', () => eraseArgs(PACK).slice(0, -1).concat(underFile('recipe.json')), 4, /--out .*is a file, not a folder/, noRecipe);
  add('erase', 'unwritable second output', () => eraseArgs(PACK, '--weights', underFile('weights.safetensors')), 4, /--weights .*is a file, not a folder/, noRecipe);
  const eraseFull = freshCache();
  add('erase', 'cache full (quota)', () => eraseArgs(PACK), 5, /cache .* is full/, { ...noRecipe, env: { LETHE_CACHE_DIR: eraseFull, LETHE_CACHE_MAX_BYTES: '200000' }, cache: eraseFull });

  // export: a recipe and a pack in; a LoRA out.
  const exportArgs = (recipe: string, pack = PACK, ...more: string[]) => ['export', '--recipe', recipe, '--pack', pack, '--out', out('lora.safetensors'), ...more];
  const noLora = { noOutput: [out('lora.safetensors')] };
  add('export', 'missing path', () => exportArgs(missing()), 3, /--recipe: cannot read .*no such file/, noLora);
  add('export', 'missing pack', () => exportArgs(RECIPE, missing()), 3, /--pack .*: no such folder/, noLora);
  add('export', 'empty file', () => exportArgs(file('empty-recipe.json', '')), 1, /recipe|JSON/i, noLora);
  add('export', 'truncated file', () => exportArgs(file('cut-recipe.json', readFileSync(RECIPE, 'utf8').slice(0, 60))), 1, /recipe|JSON/i, noLora);
  add('export', 'random bytes', () => exportArgs(file('noise-recipe.json', randomBytes(300, 8))), 1, /is not a text file/, noLora);
  add('export', 'HTML page', () => exportArgs(file('html-recipe.json', HTML_PAGE)), 1, /recipe|JSON/i, noLora);
  add('export', 'wrong kind (other pack)', () => exportArgs(SD21_RECIPE), 1, /pack/, noLora);
  add('export', 'out-of-range flag', () => exportArgs(RECIPE, PACK, '--rank', '0'), 2, /--rank: expected "exact" or a positive integer/, noLora);
  add('export', 'unknown value', () => exportArgs(RECIPE, PACK, '--format', 'peft'), 2, /--format: expected diffusers or kohya/, noLora);
  add('export', 'unwritable output', () => exportArgs(RECIPE).slice(0, -1).concat(underFile('lora.safetensors')), 4, /--out .*is a file, not a folder/);
  const exportFull = freshCache();
  add('export', 'cache full (quota)', () => exportArgs(RECIPE), 5, /cache .* is full/, { ...noLora, env: { LETHE_CACHE_DIR: exportFull, LETHE_CACHE_MAX_BYTES: '200000' }, cache: exportFull });

  // info: flags only.
  add('info', 'unknown flag', () => ['info', '--selftest'], 2, /unknown argument "--selftest"/);

  // Every command, including ones added after this test was written: an unknown flag and a missing value.
  for (const command of COMMANDS) {
    add(command.name, 'unknown flag (any command)', () => [command.name, '--no-such-flag', 'x'], 2, /--no-such-flag|unknown/i);
  }
  return list;
}

const results: { cell: Cell; ran: Ran; line: string }[] = [];

beforeAll(async () => {
  mkdirSync(path('empty'), { recursive: true });
  mkdirSync(path('out'), { recursive: true });
  writeFileSync(A_FILE, 'a file where a folder is expected\n');
  const ok = async (args: string[]) => {
    const ran = await run(args);
    if (ran.code !== 0) throw new Error(`fixture ${args.join(' ')} failed (${ran.code}): ${ran.stderr}`);
  };
  await ok(['forge', '--preset', 'tiny-sd15', '--out', EXPORT]);
  await ok(['convert', '--in', EXPORT, '--out', PACK]);
  await ok(['forge', '--preset', 'tiny-sd15', '--layout', 'diffusers', '--out', DIFFUSERS]);
  await ok(['erase', '--pack', PACK, '--concept', 'cat', '--out', RECIPE]);
  await ok(['export', '--recipe', RECIPE, '--pack', PACK, '--out', SD15_LORA]);
  await ok(['erase', '--pack', 'demo:tiny-sd21', '--concept', 'cat', '--out', SD21_RECIPE]);
  await ok(['export', '--recipe', SD21_RECIPE, '--pack', 'demo:tiny-sd21', '--out', SD21_LORA]);
}, 900_000);

afterAll(() => {
  const width = (pick: (r: (typeof results)[number]) => string) => Math.max(...results.map((r) => pick(r).length));
  const wc = width((r) => r.cell.command);
  const wi = width((r) => r.cell.input);
  const rows = results.map((r) => `${r.cell.command.padEnd(wc)}  ${r.cell.input.padEnd(wi)}  ${String(r.ran.code).padStart(2)}  ${r.line}`);
  process.stdout.write(`\nlethe fault matrix: ${results.length} cells (command x input class -> exit code, message)\n${rows.join('\n')}\n\n`);
  rmSync(dir, { recursive: true, force: true });
});

describe('lethe fault matrix', () => {
  test('every command has cells beyond the generic ones', () => {
    const specific = new Set(cells().filter((c) => !c.input.endsWith('(any command)')).map((c) => c.command));
    for (const name of ['forge', 'convert', 'pack', 'tokenize', 'generate', 'erase', 'export', 'info']) expect(specific, name).toContain(name);
  });

  test.each(cells().map((cell) => [`${cell.command} x ${cell.input}`, cell] as const))('%s', async (_, cell) => {
    rmSync(path('out'), { recursive: true, force: true });
    mkdirSync(path('out'));
    const ran = await run(cell.args(), cell.env);
    const lines = ran.stderr.split('\n').filter((line) => line.trim() !== '');
    const failureLines = lines.filter((line) => line.startsWith('lethe '));
    const line = failureLines.at(-1) ?? '(none)';
    results.push({ cell, ran, line: line.replace(dir, '<tmp>').replaceAll(dir, '<tmp>') });
    expect(ran.code, ran.stderr).toBe(cell.code);
    expect(Object.values(EXIT_CODES)).toContain(ran.code);
    // Said once, last, with the command's name; no stack trace, no Node banner.
    expect(failureLines, ran.stderr).toHaveLength(1);
    expect(lines.at(-1)).toBe(line);
    expect(line.startsWith(`lethe ${cell.command}: `), line).toBe(true);
    expect(line.slice(`lethe ${cell.command}: `.length)).toMatch(cell.message);
    expect(ran.stderr).not.toMatch(/^\s+at |Node\.js v\d|\n\s+at /m);
    for (const output of cell.noOutput ?? []) expect(existsSync(output), `${output} was left behind`).toBe(false);
    expect(leftovers(path('out')), 'temporary files left in the output folder').toEqual([]);
    expect(leftovers(dir), 'temporary folders left next to the output').toEqual([]);
    expect(corruptBlobs(cell.cache ?? WARM_CACHE), 'cache blobs that do not hash to their name').toEqual([]);
  });
});
