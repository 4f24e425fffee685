import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { JsonObject } from '../../src/util/json-fields.ts';
import { readTextEncoderConfig, readUNetConfig, readVaeConfig } from '../../src/model/diffusers/configs.ts';
import { readSafetensors } from '../../src/formats/safetensors/reader.ts';
import { tensorToFloat32 } from '../../src/formats/safetensors/elements.ts';

/**
 * The concept-world trainer on its tiny "smoke" config, every stage (glyphs, tokenizer, data,
 * VAE, encode, UNet, judge, export), so it cannot rot. CI installs python3-torch; on a machine
 * without it the test says so and is skipped, except under CI where it fails.
 */
const python = process.env.LETHE_PYTHON ?? '/usr/bin/python3';
const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch && process.env.CI) throw new Error(`the trainer smoke test needs ${python} with torch (apt-get install python3-torch)`);
if (!hasTorch) console.warn(`skipping the concept-world trainer smoke: no torch for ${python}`);

describe.skipIf(!hasTorch)('concept-world trainer (smoke config)', () => {
  const out = mkdtempSync(join(tmpdir(), 'lethe-cw-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('runs every stage, resumes as a no-op, and exports a diffusers repo Lethe reads', () => {
    const env = { ...process.env, PYTHON: python };
    execFileSync('bash', ['tools/concept-world/train-all.sh', out, 'smoke'], { env, stdio: 'pipe' });
    for (const file of ['judge.onnx', 'judge.json', 'parity.safetensors', 'diffusers/unet/diffusion_pytorch_model.safetensors', 'diffusers/model_index.json'])
      expect(existsSync(join(out, file)), file).toBe(true);
    const unetLog = readFileSync(join(out, 'log', 'unet.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(unetLog[unetLog.length - 1]).step).toBe(3);
    // A second run finds every stage done and trains nothing more.
    const again = execFileSync('bash', ['tools/concept-world/train-all.sh', out, 'smoke'], { env, encoding: 'utf8' });
    expect(again).toContain('unet: done already');
    expect(readFileSync(join(out, 'log', 'unet.jsonl'), 'utf8').trim().split('\n')).toHaveLength(unetLog.length);
    // The configs are ones Lethe's pack builder reads (the shipped model's pack is built in shipped-model.test.ts).
    const config = (file: string) => JSON.parse(readFileSync(join(out, 'diffusers', file), 'utf8')) as JsonObject;
    expect(readUNetConfig(config('unet/config.json')).blockOutChannels).toEqual([8, 16, 16, 16]);
    expect(readVaeConfig(config('vae/config.json')).latentChannels).toBe(4);
    expect(readTextEncoderConfig(config('text_encoder/config.json')).hiddenSize).toBe(16);
  }, 300_000);

  test('caption noise inserts only words that name no class, synonym, style or color', () => {
    const script = [
      'import json, sys, torch',
      "sys.path.insert(0, 'tools/concept-world')",
      'from concept_world.world import load_world, noise_word_pool, insert_noise_words',
      "vocab = json.load(open('public/concept-world/diffusers/tokenizer/vocab.json'))",
      'spec = load_world()',
      'pool = noise_word_pool(vocab, spec)',
      'gen = torch.Generator().manual_seed(0)',
      "noisy = [insert_noise_words('a photo of a cat', pool, 1.0, gen) for _ in range(50)]",
      "print(json.dumps({'pool': pool, 'noisy': noisy, 'kept': insert_noise_words('a cat', pool, 0.0, gen), 'empty': insert_noise_words('', pool, 1.0, gen)}))",
    ].join('\n');
    const result = JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8' })) as { pool: string[]; noisy: string[]; kept: string; empty: string };
    const world = JSON.parse(readFileSync('public/concept-world/world.json', 'utf8')) as {
      objects: { name: string; synonyms: string[] }[];
      styles: { name: string; words: string[] }[];
      colors: string[];
    };
    const named = [...world.colors, ...world.objects.flatMap((o) => [o.name, ...o.synonyms]), ...world.styles.flatMap((s) => [s.name, ...s.words])]
      .flatMap((phrase) => phrase.replaceAll('-', ' ').split(' '))
      .filter(Boolean);
    expect(result.pool.length).toBeGreaterThan(100);
    for (const word of named) expect(result.pool, word).not.toContain(word);
    for (const caption of result.noisy) {
      const words = caption.split(' ');
      expect(words.length, caption).toBeGreaterThanOrEqual(6);
      expect(words.length, caption).toBeLessThanOrEqual(7);
      expect(words, caption).toContain('cat');
      expect(
        words.filter((w) => !['a', 'an', 'photo', 'of', 'cat'].includes(w)).every((w) => result.pool.includes(w)),
        caption,
      ).toBe(true);
    }
    expect(result.kept).toBe('a cat');
    expect(result.empty).toBe('');
  });

  test('fine-tunes from a trained repo: starts from its weights, keeps its scaling factor, weights classes', () => {
    const env = { ...process.env, PYTHON: python };
    const repo = join(out, 'diffusers');
    if (!existsSync(join(repo, 'model_index.json'))) execFileSync('bash', ['tools/concept-world/train-all.sh', out, 'smoke'], { env, stdio: 'pipe' });
    const tuned = join(out, 'fine-tune');
    // Zero VAE steps: the fine-tune's VAE is the repo's, bit for bit after the fp16 round trip.
    const fineTune = (extra: string[]) =>
      spawnSync('bash', ['tools/concept-world/train-all.sh', tuned, 'smoke', '--init-from', repo, ...extra], {
        env: { ...env, LETHE_VAE_STEPS: '0' },
        encoding: 'utf8',
      });
    const refused = fineTune(['--class-weights', 'cat=2,unicorn=3']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('--class-weights: no class named unicorn');
    const ran = fineTune(['--class-weights', 'cat=2,truck=2', '--style-weights', 'neon=2']);
    expect(ran.status, ran.stderr).toBe(0);
    const vaeFile = 'vae/diffusion_pytorch_model.safetensors';
    expect(readFileSync(join(tuned, 'diffusers', vaeFile)).equals(readFileSync(join(repo, vaeFile)))).toBe(true);
    const scaling = (dir: string) => readVaeConfig(JSON.parse(readFileSync(join(dir, 'vae/config.json'), 'utf8')) as JsonObject).scalingFactor;
    expect(scaling(join(tuned, 'diffusers'))).toBe(scaling(repo));
    // The UNet trained 3 steps from the repo's weights: changed, but far closer to them than a
    // fresh initialization would be (that differs by more than the weights' own norm).
    const unet = (dir: string) => {
      const file = join(dir, 'unet/diffusion_pytorch_model.safetensors');
      const tensors = readSafetensors(new Uint8Array(readFileSync(file)), file).tensors;
      return new Map([...tensors].map(([name, tensor]) => [name, tensorToFloat32(tensor, file)]));
    };
    const before = unet(repo);
    let change = 0;
    let norm = 0;
    for (const [name, values] of unet(join(tuned, 'diffusers'))) {
      const original = before.get(name);
      if (!original) throw new Error(`the fine-tuned UNet has a tensor the repo lacks: ${name}`);
      values.forEach((v, i) => {
        change += (v - original[i]) ** 2;
        norm += original[i] ** 2;
      });
    }
    expect(change).toBeGreaterThan(0);
    expect(Math.sqrt(change / norm)).toBeLessThan(0.1);
  }, 300_000);
});
