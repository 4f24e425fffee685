/**
 * `lethe train`: flags become the recipe's fineTune section (over the recipe's own or the
 * objective's defaults) with errors naming the flag; on the demo tiny-sd15 pack a 2-step ESD-x run
 * writes a kohya LoRA carrying its recipe, and --resume on the finished checkpoint writes the same
 * bytes without training again.
 */
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseTrainArgs, runTrain, trainingRecipe, type TrainEngine } from '../../src/cli/commands/train.ts';
import { UsageError } from '../../src/cli/command.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { parseRecipe, serializeRecipe } from '../../src/erasure/recipe.ts';
import { fineTuneDefaults } from '../../src/erasure/fine-tune/fine-tune-options.ts';
import { readLora } from '../../src/formats/lora/reader.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { InputError } from '../../src/util/errors.ts';

const required = ['--pack', 'demo:tiny-sd15', '--recipe', 'r.json', '--objective', 'crce', '--out', 'x.safetensors'];

describe('lethe train flags', () => {
  test('flags override fineTune fields; the rest come from the objective defaults or the recipe', () => {
    const args = parseTrainArgs([...required, '--steps', '12', '--lr', '3e-4', '--rank', '8', '--seed', '7', '--latent-size', '8']);
    expect(args.overrides).toEqual({ steps: 12, learningRate: 3e-4, rank: 8, seed: 7, latentSize: 8 });
    expect(args.export).toEqual({ convention: 'kohya', dtype: 'fp32', rank: 'exact' });
    const plain = JSON.parse(readFileSync(new URL('../erasure/fine-tune/plain-recipe.json', import.meta.url), 'utf8'));
    const json = JSON.stringify(plain);
    const made = parseRecipe(trainingRecipe(json, 'r.json', args, 64), 'made');
    expect(made.fineTune).toEqual({ ...fineTuneDefaults('crce', 64), steps: 12, learningRate: 3e-4, rank: 8, seed: 7, latentSize: 8 });
    // A recipe that already has a fineTune section for this objective keeps its fields where no flag is given.
    const own = serializeRecipe({ ...parseRecipe(json, 'r.json'), fineTune: { ...fineTuneDefaults('crce', 16), corefsPerStep: 2, steps: 5 } });
    const kept = parseRecipe(trainingRecipe(own, 'r.json', { objective: 'crce', overrides: { steps: 9 } }, 64), 'made');
    expect(kept.fineTune).toMatchObject({ corefsPerStep: 2, steps: 9, latentSize: 16 });
  });

  test('bad flags are usage errors naming the flag', () => {
    expect(() => parseTrainArgs(required.filter((a) => a !== '--objective' && a !== 'crce'))).toThrow(new UsageError('--objective is required (realera, esd-x, crce)'));
    expect(() => parseTrainArgs([...required.slice(0, 4), '--objective', 'esd-u', ...required.slice(6)])).toThrow(/--objective must be one of realera, esd-x, crce, got "esd-u"/);
    expect(() => parseTrainArgs([...required, '--steps', '0'])).toThrow(/--steps must be an integer in \[1, 1000000\], got "0"/);
    expect(() => parseTrainArgs([...required, '--resume'])).toThrow(/--resume needs --checkpoint DIR/);
    expect(() => parseTrainArgs([...required, '--format', 'a1111'])).toThrow(/--format must be one of kohya, diffusers/);
    expect(() => trainingRecipe('{"format": 1}', 'r.json', { objective: 'esd-x', overrides: {} }, 64)).toThrow(/^r\.json: version: missing$/);
  });
});

describe('lethe train on demo:tiny-sd15', () => {
  test('writes a LoRA with its recipe; --resume of a finished run writes the same bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-train-'));
    // One engine for the whole test (the command disposes its engine: this one outlives it).
    const engine = await createNodeEngine({ cache: new NodeDirBlobCache(join(dir, 'cache')) });
    try {
      await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
      // A closed-form recipe for this pack, as `lethe erase` writes it.
      const edit = await engine.erase({ concepts: { kind: 'object', targets: [{ concept: 'cat', corefs: [{ concept: 'kitten', weight: 0.8 }] }], retains: [{ concept: 'dog', weight: 0.6 }] }, method: 'uce', tokens: 'subject' });
      writeFileSync(join(dir, 'erase.json'), edit.recipe);
      const shared: TrainEngine = {
        loadPack: (spec, onProgress) => engine.loadPack(spec, onProgress),
        train: (request, onProgress) => engine.train(request, onProgress),
        exportLora: (options) => engine.exportLora(options),
        useCheckpointStore: (store) => engine.useCheckpointStore(store),
        get loadedModel() {
          return engine.loadedModel;
        },
        dispose: () => undefined,
      };
      const logs: string[] = [];
      const progress: string[] = [];
      const io = { createEngine: async () => shared, log: (l: string) => logs.push(l), progress: (l: string) => progress.push(l) };
      const args = ['--pack', 'demo:tiny-sd15', '--recipe', join(dir, 'erase.json'), '--objective', 'esd-x', '--steps', '2', '--latent-steps', '1', '--rank', '2', '--lr', '1e-3', '--checkpoint', join(dir, 'ckpt'), '--checkpoint-every', '1', '--recipe-out', join(dir, 'run.json')];
      expect(await runTrain([...args, '--out', join(dir, 'a.safetensors')], io)).toBe(0);
      expect(progress.filter((l) => /^step \d\/2: loss \d/.test(l))).toHaveLength(2);
      expect(progress.some((l) => l.includes('checkpoint saved'))).toBe(true);
      expect(logs.join('\n')).toMatch(/trained 2 steps in [\d.]+ s/);
      const bytes = readFileSync(join(dir, 'a.safetensors'));
      const lora = readLora(new Uint8Array(bytes), 'a.safetensors');
      const recipe = parseRecipe(lora.metadata.lethe_recipe, 'lethe_recipe');
      expect(recipe.fineTune).toMatchObject({ objective: 'esd-x', base: 'original', steps: 2, rank: 2, learningRate: 1e-3, latentSize: 8 });
      expect(readFileSync(join(dir, 'run.json'), 'utf8')).toBe(serializeRecipe(recipe));
      expect(readdirSync(join(dir, 'ckpt')).filter((f) => f.endsWith('.ckpt'))).toHaveLength(1);

      logs.length = 0;
      expect(await runTrain([...args, '--resume', '--out', join(dir, 'b.safetensors')], io)).toBe(0);
      expect(logs.join('\n')).toMatch(/trained 2 steps \(resumed at step 2\)/);
      expect(readFileSync(join(dir, 'b.safetensors')).equals(bytes)).toBe(true);
    } finally {
      await engine.dispose();
    }
  }, 900_000);

  test('a recipe for another pack is refused by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-train-'));
    const plain = readFileSync(new URL('../erasure/fine-tune/plain-recipe.json', import.meta.url), 'utf8');
    writeFileSync(join(dir, 'r.json'), plain);
    const io = { createEngine: () => createNodeEngine({ cache: new NodeDirBlobCache(join(dir, 'cache')) }), log: () => {}, progress: () => {} };
    await expect(runTrain(['--pack', 'demo:tiny-sd15', '--recipe', join(dir, 'r.json'), '--objective', 'esd-x', '--out', join(dir, 'x.safetensors')], io)).rejects.toThrow(InputError);
  }, 300_000);
});
