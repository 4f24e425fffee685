import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { GenerateParams, GenerateProgressEvent, PackLoadProgress } from '../../src/engine/api.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { fixedDimensions } from '../../src/pipeline/session-spec.ts';

const cache = new NodeDirBlobCache(mkdtempSync(join(tmpdir(), 'lethe-engine-')));
const engine = await createNodeEngine({ cache });
afterAll(() => engine.dispose());

const params = (overrides: Partial<GenerateParams> = {}): GenerateParams => ({
  jobId: crypto.randomUUID(),
  prompt: 'a photo of a cat',
  seed: 7,
  steps: 4,
  guidance: 7.5,
  scheduler: 'dpmpp_2m',
  variant: 'original',
  ...overrides,
});

describe('engine on the demo pack (Node: Dawn + onnxruntime-node)', () => {
  test('loads the forged demo pack with progress, then generates', async () => {
    const events: PackLoadProgress[] = [];
    const summary = await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' }, (p) => events.push(p));
    expect(summary.family).toBe('tiny-sd15');
    expect(summary.crossAttentionLayers).toBe(16);
    expect(events.map((e) => e.phase)).toContain('download');
    expect(events.at(-1)?.phase).toBe('ready');

    const progress: GenerateProgressEvent[] = [];
    const image = await engine.generate(params(), (p) => progress.push(p));
    expect([image.width, image.height]).toEqual([64, 64]);
    expect(image.rgba.length).toBe(64 * 64 * 4);
    // Not a flat image: the tiny model's output has structure.
    const values = new Set(image.rgba);
    expect(values.size).toBeGreaterThan(20);
    expect(progress.filter((p) => p.phase === 'denoise').map((p) => p.step)).toEqual([1, 2, 3, 4]);
  });

  test('same seed gives identical pixels; another seed does not; with no edit, edited == original', async () => {
    const a = await engine.generate(params());
    const b = await engine.generate(params());
    const edited = await engine.generate(params({ variant: 'edited' }));
    const other = await engine.generate(params({ seed: 8 }));
    expect(Buffer.from(a.rgba).equals(Buffer.from(b.rgba))).toBe(true);
    expect(Buffer.from(a.rgba).equals(Buffer.from(edited.rgba))).toBe(true);
    expect(Buffer.from(a.rgba).equals(Buffer.from(other.rgba))).toBe(false);
  });

  test('the prompt reaches the UNet through the cross-attention hook', async () => {
    const cat = await engine.generate(params({ prompt: 'a photo of a cat' }));
    const ship = await engine.generate(params({ prompt: 'a painting of a ship' }));
    expect(Buffer.from(cat.rgba).equals(Buffer.from(ship.rgba))).toBe(false);
  });

  test('cancel stops within one step', async () => {
    const jobId = crypto.randomUUID();
    const steps: number[] = [];
    const run = engine.generate(params({ jobId, steps: 20 }), (p) => {
      if (p.phase === 'denoise') {
        steps.push(p.step);
        if (p.step === 2) void engine.cancel(jobId);
      }
    });
    await expect(run).rejects.toThrow(/cancelled/);
    expect(Math.max(...steps)).toBeLessThanOrEqual(3);
  });
});


describe('fixed shapes for ORT', () => {
  test('the text encoder fixes its token axis, the VAE its batch; batch and latent size stay free for the UNet', () => {
    const manifest = engine.loadedModel!.pack.manifest;
    expect(fixedDimensions(manifest.textEncoder, { 'input_ids:1': 77 })).toEqual({ sequence_length: 77 });
    expect(fixedDimensions(manifest.vaeDecoder, { 'latent_sample:0': 1 })).toEqual({ [String(manifest.vaeDecoder.inputs[0].shape[0])]: 1 });
    expect(fixedDimensions(manifest.pieces[0], {})).toEqual({});
  });
});
