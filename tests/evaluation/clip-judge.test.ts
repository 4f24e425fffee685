import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClipJudge, createClipScorer } from '../../src/evaluation/judges/clip-judge.ts';
import { softmax } from '../../src/evaluation/metrics.ts';
import { loadClipTokenizer } from '../../src/pipeline/tokenizer/clip-tokenizer.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { CLIP_MEAN, CLIP_STD, forgeTinyClip, TINY_CLIP_IMAGE } from '../support/forge-clip.ts';
import { HubServer } from '../support/hub-server.ts';

// transformers.js in Node loads ONNX files from its disk cache; the test's files go to a temporary folder.
env.cacheDir = mkdtempSync(join(tmpdir(), 'lethe-clip-cache-'));

let hub: HubServer;
let clip: Awaited<ReturnType<typeof forgeTinyClip>>;
const REPO = 'lethe-test/tiny-clip';
beforeAll(async () => {
  clip = await forgeTinyClip();
  hub = await HubServer.start();
  hub.setRepo(REPO, clip.files);
});
afterAll(() => hub?.close());

function randomImage(seed: number) {
  const random = new SeededRandom(seed);
  const size = TINY_CLIP_IMAGE;
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = i % 4 === 3 ? 255 : Math.floor(random.uniform() * 256);
  return { width: size, height: size, rgba };
}

/** The graphs run directly in onnxruntime-node, with preprocessing and tokenization done by hand. */
async function referenceEmbeddings(texts: string[], images: ReturnType<typeof randomImage>[]) {
  const tokenizer = loadClipTokenizer(clip.tokenizer);
  const textSession = await ort.InferenceSession.create(clip.files.get('onnx/text_model.onnx')!);
  const visionSession = await ort.InferenceSession.create(clip.files.get('onnx/vision_model.onnx')!);
  const normalize = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return Array.from(v, (x) => x / n);
  };
  const textEmbeds: number[][] = [];
  for (const text of texts) {
    const { ids, eosIndex } = tokenizer.tokenize(text);
    const input = new ort.Tensor('int64', BigInt64Array.from(Array.from(ids.subarray(0, eosIndex + 1), BigInt)), [1, eosIndex + 1]);
    textEmbeds.push(normalize((await textSession.run({ input_ids: input })).text_embeds.data as Float32Array));
  }
  const imageEmbeds: number[][] = [];
  const size = TINY_CLIP_IMAGE;
  for (const image of images) {
    const pixels = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) pixels[c * size * size + i] = (image.rgba[i * 4 + c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
    imageEmbeds.push(normalize((await visionSession.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, size, size]) })).image_embeds.data as Float32Array));
  }
  return { textEmbeds, imageEmbeds };
}

const cosine = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i], 0);

describe('CLIP judges through transformers.js on a forged tiny CLIP from a local hub', () => {
  test('zero-shot: softmax(100 x cosine(image, "a photo of the {class}")) matches the graphs run by hand', async () => {
    const classes = ['cat', 'dog', 'ship'];
    const judge = await createClipJudge({ model: REPO, endpoint: hub.endpoint }, classes, { template: 'a photo of the {object}', scale: 100 });
    expect(judge.labels).toEqual(classes);
    expect(judge.descriptor).toEqual({ kind: 'clip', model: REPO, revision: 'main', template: 'a photo of the {object}', scale: 100 });
    const images = [randomImage(1), randomImage(2)];
    const got = await judge.classify(images);
    const { textEmbeds, imageEmbeds } = await referenceEmbeddings(classes.map((c) => `a photo of the ${c}`), images);
    for (const [i, image] of imageEmbeds.entries()) {
      const reference = softmax(textEmbeds.map((t) => cosine(image, t)), 100);
      for (let k = 0; k < classes.length; k++) expect(got[i][k]).toBeCloseTo(reference[k], 4);
    }
    expect(hub.log.some((entry) => entry.path === 'onnx/vision_model.onnx')).toBe(true);
    await judge.release();
  }, 60_000);

  test('CLIP score: 100 x max(cosine(image, prompt), 0) per image', async () => {
    const scorer = await createClipScorer({ model: REPO, endpoint: hub.endpoint });
    const images = [randomImage(3), randomImage(4)];
    const prompts = ['a photo of the cat', 'a photo of the ship'];
    const got = await scorer.score(images, prompts);
    const { textEmbeds, imageEmbeds } = await referenceEmbeddings(prompts, images);
    for (let i = 0; i < 2; i++) expect(got[i]).toBeCloseTo(100 * Math.max(0, cosine(imageEmbeds[i], textEmbeds[i])), 3);
    await expect(scorer.score(images, prompts.slice(0, 1))).rejects.toThrow('2 images but 1 prompts');
    await scorer.release();
  }, 60_000);
});
