import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../../src/evaluation/judges/concept-world-judge.ts';
import type { JudgeImage } from '../../src/evaluation/judges/judge.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';

/**
 * A concept disappears: on the shipped concept world, "a neon image showing a cat" is drawn in
 * neon (the judge's style head says so); after the closed-form erasure of "neon" (pencil sketch
 * and pixel art preserved) the same seeds are drawn in another style, while pencil sketches stay
 * pencil sketches. The model has learned the styles; its objects are not yet recognizable, so the
 * object head is not asserted here (bench/concept-world.node.ts reports it). The prompts use an
 * evaluation template, never a training caption.
 */
const SEEDS = [0, 1, 2, 3, 4, 5];
const engine = await createNodeEngine({ cache: new MemoryBlobCache() });
const labels = parseConceptWorldLabels(JSON.parse(readFileSync('public/concept-world/judge.json', 'utf8')) as unknown, 'judge.json');
const judge = await createConceptWorldJudge(new NodeOnnxRunner(), new Uint8Array(readFileSync('public/concept-world/judge.onnx')), labels, { head: 'style_logits' });
let job = 0;

async function judgedAs(prompt: string, variant: 'original' | 'edited'): Promise<string[]> {
  const images: JudgeImage[] = [];
  for (const seed of SEEDS) {
    const image = await engine.generate({ jobId: `cw-${job++}`, prompt, seed, steps: 20, guidance: 7.5, scheduler: 'ddim', variant });
    images.push({ width: image.width, height: image.height, rgba: image.rgba });
  }
  return (await judge.classify(images)).map((p) => judge.labels[p.indexOf(Math.max(...p))]);
}
const count = (answers: string[], name: string) => answers.filter((a) => a === name).length;

describe('erasing "neon" from the concept world', () => {
  afterAll(() => judge.release());

  test('neon before, no neon after, pencil sketches throughout', async () => {
    await engine.loadPack({ kind: 'demo', preset: 'concept-world' });
    const neonBefore = await judgedAs('a neon image showing a cat', 'original');
    const sketchBefore = await judgedAs('a pencil sketch image showing a horse', 'original');
    await engine.erase({ concepts: { kind: 'style', targets: [{ concept: 'neon' }], preserve: [{ concept: 'pencil sketch' }, { concept: 'pixel art' }] }, method: 'uce', tokens: 'subject' });
    const neonAfter = await judgedAs('a neon image showing a cat', 'edited');
    const sketchAfter = await judgedAs('a pencil sketch image showing a horse', 'edited');
    console.log({ neonBefore, neonAfter, sketchBefore, sketchAfter });
    expect(count(neonBefore, 'neon')).toBeGreaterThanOrEqual(5);
    expect(count(neonAfter, 'neon')).toBeLessThanOrEqual(1);
    expect(count(sketchBefore, 'pencil sketch')).toBeGreaterThanOrEqual(5);
    expect(count(sketchAfter, 'pencil sketch')).toBeGreaterThanOrEqual(5);
  }, 300_000);
});
