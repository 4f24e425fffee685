import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { readSafetensors, tensorToFloat32, tensorToInt32 } from '../../src/formats/safetensors/index.ts';
import { MANIFEST_FILE, parseManifest } from '../../src/model/manifest.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';
import type { PackReader } from '../../src/model/pack-reader.ts';
import { TextEncoderRunner } from '../../src/pipeline/text-encoder.ts';
import { ClipTokenizer } from '../../src/pipeline/tokenizer/clip-tokenizer.ts';
import { loadCrossAttentionWeights } from '../../src/pipeline/unet/cross-attention-weights.ts';
import { projectKv } from '../../src/pipeline/unet/kv-projection.ts';
import { UnetRunner } from '../../src/pipeline/unet/unet-runner.ts';
import { VaeDecoderRunner } from '../../src/pipeline/vae-decoder.ts';
import { testContext } from '../support/gpu.ts';

/**
 * The concept world as shipped: the trainer's own PyTorch forward (fixtures it wrote from the
 * shipped fp16 weights) against Lethe's pack, built by `lethe pack --from` with no special case.
 */
const PACK = 'public/concept-world/pack';
const REPO = 'public/concept-world/diffusers';
const FIXTURES = 'tests/fixtures/concept-world';

const packReader: PackReader = {
  manifest: parseManifest(readFileSync(join(PACK, MANIFEST_FILE), 'utf8'), MANIFEST_FILE),
  bytes: async (path) => new Uint8Array(readFileSync(join(PACK, path))),
};
const fixture = readSafetensors(new Uint8Array(readFileSync(join(FIXTURES, 'parity.safetensors'))), 'parity.safetensors');
const floats = (name: string) => tensorToFloat32(fixture.tensors.get(name)!, 'parity.safetensors');
const ctx = await testContext();
const runner = new NodeOnnxRunner();

function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('the shipped concept world matches its trainer', () => {
  const temp = mkdtempSync(join(tmpdir(), 'lethe-cw-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  test("the tokenizer gives the trainer's ids for its captions", () => {
    const tokenizer = new ClipTokenizer({
      vocabJson: readFileSync(join(PACK, 'tokenizer/vocab.json'), 'utf8'),
      mergesTxt: readFileSync(join(PACK, 'tokenizer/merges.txt'), 'utf8'),
      tokenizerConfigJson: readFileSync(join(PACK, 'tokenizer/tokenizer_config.json'), 'utf8'),
      specialTokensMapJson: readFileSync(join(PACK, 'tokenizer/special_tokens_map.json'), 'utf8'),
    });
    const captions = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer-parity.json'), 'utf8')) as Record<string, number[]>;
    expect(Object.keys(captions).length).toBeGreaterThan(20);
    for (const [caption, ids] of Object.entries(captions)) expect([...tokenizer.encode(caption)], caption).toEqual(ids);
  });

  test('text encoder, UNet (pieces + our K/V) and VAE decoder predict what PyTorch predicted', async () => {
    const ids = tensorToInt32(fixture.tensors.get('input_ids')!, 'parity.safetensors');
    const batch = ids.length / 77;
    const text = await TextEncoderRunner.create(runner, packReader);
    const hidden = await text.encode(ctx, ids, batch);
    const hiddenValues = await ctx.read(hidden);
    const expectedHidden = floats('text_hidden');
    expect(maxAbsDiff(hiddenValues, expectedHidden)).toBeLessThan(1e-4 * Math.max(1, maxAbs(expectedHidden)));

    const weights = await loadCrossAttentionWeights(ctx, packReader);
    const kv = projectKv(ctx, hidden, weights);
    ctx.flush();
    const unet = await UnetRunner.create(runner, packReader);
    const conditioning = await unet.conditioning(ctx, kv);
    const timestep = tensorToInt32(fixture.tensors.get('timesteps')!, 'parity.safetensors')[0];
    const latent = floats('latent');
    const predicted = await unet.predict(latent, [batch, 4, 8, 8], timestep, conditioning);
    const expected = floats('noise_pred');
    expect(maxAbs(expected)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(predicted, expected)).toBeLessThan(2e-4 * maxAbs(expected));

    const vae = await VaeDecoderRunner.create(runner, packReader);
    const decoded = floats('decoded');
    const perImage = decoded.length / batch;
    const scaling = packReader.manifest.dims.latentScalingFactor;
    for (let b = 0; b < batch; b++) {
      const z = latent.slice(b * 256, (b + 1) * 256).map((v) => v / scaling);
      const { pixels } = await vae.decode(z, [1, 4, 8, 8]);
      expect(maxAbsDiff(pixels, decoded.slice(b * perImage, (b + 1) * perImage))).toBeLessThan(1e-3);
    }
    conditioning.release();
    kv.release();
    hidden.release();
    for (const tensor of [...weights.toK, ...weights.toV]) tensor.release();
    await Promise.all([text.release(), unet.release(), vae.release()]);
  }, 120_000);

  test("the judge ONNX gives the trainer's logits in onnxruntime", async () => {
    const judgeFixture = readSafetensors(new Uint8Array(readFileSync(join(FIXTURES, 'judge-parity.safetensors'))), 'judge-parity.safetensors');
    const get = (name: string) => tensorToFloat32(judgeFixture.tensors.get(name)!, 'judge-parity.safetensors');
    const session = await ort.InferenceSession.create('public/concept-world/judge.onnx');
    const pixels = get('pixels');
    const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [pixels.length / (3 * 64 * 64), 3, 64, 64]) });
    expect(maxAbsDiff(out.object_logits.data as Float32Array, get('object_logits'))).toBeLessThan(1e-3);
    expect(maxAbsDiff(out.style_logits.data as Float32Array, get('style_logits'))).toBeLessThan(1e-3);
    await session.release();
  });

  test('the shipped pack is exactly what `lethe pack --from` builds from the shipped diffusers repo', () => {
    const out = join(temp, 'pack');
    execFileSync(process.execPath, ['bin/lethe.mjs', 'pack', '--from', REPO, '--out', out, '--dtype', 'fp32'], { stdio: 'pipe' });
    expect(readFileSync(join(out, MANIFEST_FILE), 'utf8')).toBe(readFileSync(join(PACK, MANIFEST_FILE), 'utf8'));
  }, 180_000);
});
