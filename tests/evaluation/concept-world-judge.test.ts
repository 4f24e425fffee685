import { describe, expect, test } from 'vitest';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../../src/evaluation/judges/concept-world-judge.ts';
import { toPlanarRgb } from '../../src/evaluation/judges/resize.ts';
import { softmax } from '../../src/evaluation/metrics.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { forgeStandInJudge, standInObjectLogits } from '../support/forge-judge.ts';

function randomImage(size: number, seed: number) {
  const random = new SeededRandom(seed);
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = Math.floor(random.uniform() * 256);
  return { width: size, height: size, rgba };
}

describe('resampling for the judge', () => {
  test('a 64px image passes through as planar RGB / 255', () => {
    const image = randomImage(64, 1);
    const planar = toPlanarRgb(image, 64);
    for (const [x, y] of [[0, 0], [63, 5], [17, 40]]) {
      for (let c = 0; c < 3; c++) expect(planar[c * 4096 + y * 64 + x]).toBeCloseTo(image.rgba[(y * 64 + x) * 4 + c] / 255, 7);
    }
  });

  test('area averaging: 128 -> 64 is the mean of each 2x2 block; 96 -> 64 weighs partial pixels', () => {
    const big = randomImage(128, 2);
    const planar = toPlanarRgb(big, 64);
    const at = (x: number, y: number, c: number) => big.rgba[(y * 128 + x) * 4 + c];
    const mean = (at(20, 30, 1) + at(21, 30, 1) + at(20, 31, 1) + at(21, 31, 1)) / 4 / 255;
    expect(planar[4096 + 15 * 64 + 10]).toBeCloseTo(mean, 6);
    // 96 -> 64: output pixel 0 covers source [0, 1.5): pixel 0 fully, pixel 1 half.
    const odd = randomImage(96, 3);
    const p = toPlanarRgb(odd, 64);
    const s = (x: number, y: number) => odd.rgba[(y * 96 + x) * 4];
    const expected = (s(0, 0) * 1 + s(1, 0) * 0.5 + s(0, 1) * 0.5 + s(1, 1) * 0.25) / 2.25 / 255;
    expect(p[0]).toBeCloseTo(expected, 6);
    expect(() => toPlanarRgb({ width: 4, height: 4, rgba: new Uint8ClampedArray(10) }, 64)).toThrow('has 10 RGBA bytes, expected 64');
  });
});

describe('concept-world judge (stand-in ONNX through onnxruntime-node)', () => {
  test('softmax of object_logits matches a float64 reference of the graph, in batches', async () => {
    const standIn = await forgeStandInJudge();
    const judge = await createConceptWorldJudge(new NodeOnnxRunner(), standIn.onnx, parseConceptWorldLabels(standIn.json, 'judge.json'), { batch: 2 });
    expect(judge.labels).toHaveLength(10);
    expect(judge.descriptor).toMatchObject({ kind: 'concept-world', head: 'object_logits', inputSize: 64 });
    expect(judge.descriptor.kind === 'concept-world' && judge.descriptor.sha256).toMatch(/^[0-9a-f]{64}$/);
    const images = [randomImage(64, 10), randomImage(64, 11), randomImage(128, 12)];
    const got = await judge.classify(images);
    expect(got).toHaveLength(3);
    let spread = 0;
    for (const [i, image] of images.entries()) {
      const reference = softmax(standInObjectLogits(standIn, Float64Array.from(toPlanarRgb(image, 64))));
      for (let k = 0; k < 10; k++) expect(got[i][k]).toBeCloseTo(reference[k], 5);
      expect(got[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      spread = Math.max(spread, Math.max(...got[i]) - Math.min(...got[i]));
    }
    // Not a uniform answer: the forged weights make the classes differ.
    expect(spread).toBeGreaterThan(0.05);
    await judge.release();
  });

  test('logits that do not match the label list, and malformed label files, are refused naming the file', async () => {
    const standIn = await forgeStandInJudge();
    const styles = await createConceptWorldJudge(new NodeOnnxRunner(), standIn.onnx, standIn.labels, { head: 'style_logits' });
    expect(styles.labels).toEqual(standIn.labels.styles);
    expect((await styles.classify([randomImage(64, 1)]))[0]).toHaveLength(4);
    const short = await createConceptWorldJudge(new NodeOnnxRunner(), standIn.onnx, { objects: ['cat', 'dog', 'ship'], styles: standIn.labels.styles }, { file: 'my.onnx' });
    await expect(short.classify([randomImage(64, 1)])).rejects.toThrow('my.onnx: object_logits: expected logits [1, 3]');
    expect(() => parseConceptWorldLabels({ objects: ['a'], styles: 'b' }, 'judge.json')).toThrow('judge.json: styles: expected a non-empty list');
    expect(parseConceptWorldLabels({ objects: [{ name: 'cat' }], styles: ['x'] }, 'world.json').objects).toEqual(['cat']);
    // judge.json as the concept-world trainer writes it: label lists per output.
    expect(parseConceptWorldLabels({ input: { name: 'pixels' }, outputs: { object_logits: ['cat', 'dog'], style_logits: ['plain'] } }, 'judge.json')).toEqual({ objects: ['cat', 'dog'], styles: ['plain'] });
    expect(() => parseConceptWorldLabels({ outputs: { object_logits: ['cat'] } }, 'judge.json')).toThrow('judge.json: outputs.style_logits: expected a non-empty list');
  });
});
