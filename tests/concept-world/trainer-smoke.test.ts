import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { JsonObject } from '../../src/util/json-fields.ts';
import { readTextEncoderConfig, readUNetConfig, readVaeConfig } from '../../src/model/diffusers/configs.ts';

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
});
