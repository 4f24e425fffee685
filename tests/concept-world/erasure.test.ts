import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../../src/evaluation/judges/concept-world-judge.ts';
import type { JudgeImage } from '../../src/evaluation/judges/judge.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';

/**
 * A concept disappears: on the shipped concept world, "a photo of the cat" is drawn as a cat (the
 * judge's object head says so); after the studio's default closed-form erasure of "cat" (UCE, no
 * preserve list) the same seeds are drawn as something the judge does not call a cat, while "a
 * photo of the dog" stays a dog. Styles likewise: erasing "neon" (pencil sketch and pixel art
 * preserved) turns neon images into another style, while pencil sketches stay pencil sketches.
 * The prompts use evaluation templates, never training captions.
 */
const SEEDS = [0, 1, 2, 3, 4, 5];
const engine = await createNodeEngine({ cache: new MemoryBlobCache() });
const labels = parseConceptWorldLabels(JSON.parse(readFileSync('public/concept-world/judge.json', 'utf8')) as unknown, 'judge.json');
const judgeModel = new Uint8Array(readFileSync('public/concept-world/judge.onnx'));
const styleJudge = await createConceptWorldJudge(new NodeOnnxRunner(), judgeModel, labels, { head: 'style_logits' });
const objectJudge = await createConceptWorldJudge(new NodeOnnxRunner(), judgeModel, labels, { head: 'object_logits' });
let job = 0;

async function judgedAs(prompt: string, variant: 'original' | 'edited', judge = styleJudge): Promise<string[]> {
  const images: JudgeImage[] = [];
  for (const seed of SEEDS) {
    const image = await engine.generate({ jobId: `cw-${job++}`, prompt, seed, steps: 20, guidance: 7.5, scheduler: 'ddim', variant });
    images.push({ width: image.width, height: image.height, rgba: image.rgba });
  }
  return (await judge.classify(images)).map((p) => judge.labels[p.indexOf(Math.max(...p))]);
}
const count = (answers: string[], name: string) => answers.filter((a) => a === name).length;

afterAll(async () => {
  await styleJudge.release();
  await objectJudge.release();
});

describe('erasing "cat" from the concept world', () => {
  test('cats before, none or few after; most dogs stay dogs', async () => {
    await engine.loadPack({ kind: 'demo', preset: 'concept-world' });
    const catBefore = await judgedAs('a photo of the cat', 'original', objectJudge);
    const dogBefore = await judgedAs('a photo of the dog', 'original', objectJudge);
    // What the studio's "cat" preset sends: the other nine objects preserved.
    const others = ['airplane', 'automobile', 'bird', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'].map((concept) => ({ concept }));
    await engine.erase({ concepts: { kind: 'object', targets: [{ concept: 'cat' }], preserve: others }, method: 'uce', tokens: 'subject', closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 1 } });
    const catAfter = await judgedAs('a photo of the cat', 'edited', objectJudge);
    const dogAfter = await judgedAs('a photo of the dog', 'edited', objectJudge);
    console.log({ catBefore, catAfter, dogBefore, dogAfter });
    expect(count(catBefore, 'cat')).toBeGreaterThanOrEqual(5);
    expect(count(catAfter, 'cat')).toBeLessThanOrEqual(count(catBefore, 'cat') - 3);
    expect(count(dogBefore, 'dog')).toBeGreaterThanOrEqual(4);
    // Measured on the shipped model (7,500 steps): cats 6/6 -> 0/6, dogs 6/6 -> 3/6 (the others drawn
    // as deer or bird): in this small text encoder "cat" and "dog" share much of their embedding,
    // and a preserve list of one prompt per class holds only part of it (bench/eval-table.node.ts
    // reports Acc_s over all classes).
    expect(count(dogAfter, 'dog')).toBeGreaterThanOrEqual(Math.min(3, count(dogBefore, 'dog')));
  }, 300_000);
});

describe('erasing "neon" from the concept world', () => {

  test('neon before, no neon after, pencil sketches throughout', async () => {
    await engine.loadPack({ kind: 'demo', preset: 'concept-world' });
    const neonBefore = await judgedAs('a neon image showing a cat', 'original');
    const sketchBefore = await judgedAs('a pencil sketch image showing a horse', 'original');
    await engine.erase({ concepts: { kind: 'style', targets: [{ concept: 'neon' }], preserve: [{ concept: 'pencil sketch' }, { concept: 'pixel art' }] }, method: 'uce', tokens: 'subject' });
    const neonAfter = await judgedAs('a neon image showing a cat', 'edited');
    const sketchAfter = await judgedAs('a pencil sketch image showing a horse', 'edited');
    console.log({ neonBefore, neonAfter, sketchBefore, sketchAfter });
    expect(count(neonBefore, 'neon')).toBeGreaterThanOrEqual(5);
    expect(count(neonAfter, 'neon')).toBeLessThanOrEqual(count(neonBefore, 'neon') - 3);
    expect(count(sketchBefore, 'pencil sketch')).toBeGreaterThanOrEqual(5);
    expect(count(sketchAfter, 'pencil sketch')).toBeGreaterThanOrEqual(5);
  }, 300_000);
});
