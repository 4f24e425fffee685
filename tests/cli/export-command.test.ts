import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { UsageError } from '../../src/cli/command.ts';
import { createExportCommand, parseExportArgs, type ExportEngine } from '../../src/cli/commands/export.ts';
import type { LoraExportOptions, PackSourceSpec } from '../../src/engine/api.ts';
import { exportEditAsLora } from '../../src/erasure/lora-export.ts';
import { serializeRecipe } from '../../src/erasure/recipe.ts';
import { readLora } from '../../src/formats/lora/reader.ts';
import { editFixture, PACK_SHA } from '../erasure/lora-export-fixtures.ts';

describe('lethe export flags', () => {
  test('defaults and explicit values', () => {
    expect(parseExportArgs(['--recipe', 'r.json', '--pack', 'p'])).toEqual({ recipe: 'r.json', pack: 'p', options: { convention: 'kohya', rank: 'exact', dtype: 'fp32' }, out: null });
    expect(parseExportArgs(['--recipe=r.json', '--pack', 'p', '--format', 'diffusers', '--rank', '4', '--dtype', 'fp16', '--out', 'x.safetensors'])).toEqual({
      recipe: 'r.json',
      pack: 'p',
      options: { convention: 'diffusers', rank: 4, dtype: 'fp16' },
      out: 'x.safetensors',
    });
  });

  test.each([
    [['--pack', 'p'], /--recipe is required/],
    [['--recipe', 'r'], /--pack is required/],
    [['--recipe', 'r', '--pack', 'p', '--rank', '0'], /--rank/],
    [['--recipe', 'r', '--pack', 'p', '--rank', '2.5'], /--rank/],
    [['--recipe', 'r', '--pack', 'p', '--format', 'peft'], /--format/],
    [['--recipe', 'r', '--pack', 'p', '--dtype', 'bf16'], /--dtype/],
    [['--recipe', 'r', '--pack', 'p', '--rank'], /--rank needs a value/],
    [['--recipe', 'r', '--pack', 'p', '--seed', '1'], /unknown argument/],
    [['--recipe', 'r', '--recipe', 's', '--pack', 'p'], /given twice/],
  ])('%j is a usage error', (args, message) => {
    expect(() => parseExportArgs(args)).toThrow(UsageError);
    expect(() => parseExportArgs(args)).toThrow(message);
  });
});

describe('lethe export (with a stand-in engine)', () => {
  const fixture = editFixture({ seed: 8 });
  let dir = '';
  let logs: string[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lethe-export-'));
    logs = [];
    vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void logs.push(parts.join(' ')));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  function standIn(calls: string[]): ExportEngine {
    return {
      async loadPack(spec: PackSourceSpec) {
        calls.push(`loadPack ${spec.kind} ${spec.kind === 'path' ? spec.path : ''}`);
        return { id: PACK_SHA, family: 'sd15', dtype: 'fp32', description: '', crossAttentionLayers: 16, latentSize: 64, bytes: 0, files: 0, downloadedBytes: 0, source: 'test' };
      },
      async applyRecipe(json: string) {
        calls.push(`applyRecipe ${json.length}`);
        return { id: 'e'.repeat(64), recipe: json, eraseVectors: 5, preserveVectors: 7, rank: 5, neighbors: 0, beyond: 0, solver: 'cholesky', ms: { encode: 0, sample: 0, solve: 0, total: 1 } };
      },
      async exportLora(options: LoraExportOptions) {
        calls.push(`exportLora ${JSON.stringify(options)}`);
        return exportEditAsLora({ ...fixture, packSha256: PACK_SHA }, options);
      },
      dispose() {
        calls.push('dispose');
      },
    };
  }

  test('a truncated export prints the per-layer error table and writes the file', async () => {
    const recipePath = join(dir, 'recipe.json');
    await writeFile(recipePath, serializeRecipe(fixture.recipe));
    const out = join(dir, 'erase.safetensors');
    const calls: string[] = [];
    const code = await createExportCommand(async () => standIn(calls)).run(['--recipe', recipePath, '--pack', dir, '--rank', '2', '--format', 'diffusers', '--out', out]);
    expect(code).toBe(0);
    expect(calls[0]).toBe(`loadPack path ${dir}`);
    expect(calls.slice(1)).toEqual([`applyRecipe ${serializeRecipe(fixture.recipe).length}`, 'exportLora {"convention":"diffusers","dtype":"fp32","rank":2}', 'dispose']);
    const text = logs.join('\n');
    for (const layer of fixture.layers) expect(text).toMatch(new RegExp(`${layer.module.replaceAll('.', '\\.')}\\.to_k +2  \\d\\.\\d{3}e-\\d`));
    expect(text).toMatch(/^worst +2  \d\.\d{3}e-\d/m);
    const lora = readLora(new Uint8Array(await readFile(out)), out);
    expect(lora.layers).toHaveLength(32);
    expect(lora.layers.every((layer) => layer.rank === 2)).toBe(true);
  });

  test('an exact export without --out writes the exporter\'s file name in the working directory', async () => {
    const recipePath = join(dir, 'recipe.json');
    await writeFile(recipePath, serializeRecipe(fixture.recipe));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const code = await createExportCommand(async () => standIn([])).run(['--recipe', recipePath, '--pack', dir]);
      expect(code).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    expect(logs.join('\n')).toContain('exact: rank 5, no truncation');
    const written = await readFile(join(dir, 'lethe-erase-van-gogh-r5-kohya.safetensors'));
    expect(readLora(new Uint8Array(written), 'f').conventions).toEqual(['kohya']);
  });

  test('an unreadable recipe is an InputError before any engine starts', async () => {
    let started = false;
    const command = createExportCommand(async () => {
      started = true;
      return standIn([]);
    });
    await expect(command.run(['--recipe', join(dir, 'missing.json'), '--pack', dir])).rejects.toThrow(/--recipe: cannot read/);
    expect(started).toBe(false);
  });
});
