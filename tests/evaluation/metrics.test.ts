import { describe, expect, test } from 'vitest';
import { argmax, harmonicOverall, scoreImages, softmax, type JudgedImage } from '../../src/evaluation/metrics.ts';
import { planPrompts, type EvaluationProtocol } from '../../src/evaluation/protocol.ts';
import { SeededRandom } from '../../src/util/random.ts';

const classes = [
  { name: 'cat', synonyms: ['kitty', 'feline'] },
  { name: 'dog', synonyms: ['hound'] },
  { name: 'ship', synonyms: [] },
];
const labels = ['ship', 'dog', 'cat', 'frog']; // judge order differs from class order on purpose

function protocol(erased: string[]): EvaluationProtocol {
  return {
    classes,
    erased,
    prompts: planPrompts(classes, erased, ['a photo of the {object}', 'an {object}']),
    seeds: [3, 4, 5],
    sampling: { steps: 4, guidance: 7.5, scheduler: 'ddim', negativePrompt: '' },
  };
}

function randomImages(p: EvaluationProtocol, seed: number): JudgedImage[] {
  const random = new SeededRandom(seed);
  const images: JudgedImage[] = [];
  p.prompts.forEach((_, prompt) => {
    for (const s of p.seeds) images.push({ prompt, seed: s, probabilities: softmax(labels.map(() => random.normal() * 2)) });
  });
  return images;
}

describe('H_o', () => {
  test('is the harmonic mean of 1-Acc_e, Acc_s, 1-Acc_g (worked example)', () => {
    // 3 / (1/0.9 + 1/0.9 + 1/0.8) = 3 / 3.47222... = 0.864
    expect(harmonicOverall(0.1, 0.9, 0.2)).toBeCloseTo(0.864, 12);
    expect(harmonicOverall(0, 1, 0)).toBe(1);
    expect(harmonicOverall(1, 1, 0)).toBe(0);
    expect(harmonicOverall(0.5, 0, 0.5)).toBe(0);
  });
});

describe('scoreImages', () => {
  test('matches a direct float64 recount of every group (prompted class read by label name)', () => {
    const p = protocol(['cat']);
    const images = randomImages(p, 11);
    const m = scoreImages(p, labels, images);
    // Independent recount: filter the prompts by what they are, average by hand.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const pick = (filter: (c: string, kind: string) => boolean) => images.filter((im) => filter(p.prompts[im.prompt].className, p.prompts[im.prompt].kind));
    const prob = (im: JudgedImage) => im.probabilities[labels.indexOf(p.prompts[im.prompt].className)];
    const top = (im: JudgedImage) => (im.probabilities.indexOf(Math.max(...im.probabilities)) === labels.indexOf(p.prompts[im.prompt].className) ? 1 : 0);
    const e = pick((c, k) => c === 'cat' && k === 'name');
    const s = pick((c, k) => c !== 'cat' && k === 'name');
    const g = pick((c, k) => c === 'cat' && k === 'synonym');
    expect(e).toHaveLength(2 * 3);
    expect(s).toHaveLength(2 * 2 * 3);
    expect(g).toHaveLength(2 * 2 * 3);
    expect(m.efficacy.probability).toBeCloseTo(mean(e.map(prob)), 14);
    expect(m.specificity.probability).toBeCloseTo(mean(s.map(prob)), 14);
    expect(m.generality.probability).toBeCloseTo(mean(g.map(prob)), 14);
    expect(m.efficacy.top1).toBeCloseTo(mean(e.map(top)), 14);
    expect(m.specificity.top1).toBeCloseTo(mean(s.map(top)), 14);
    expect(m.generality.top1).toBeCloseTo(mean(g.map(top)), 14);
    const ho = 3 / (1 / (1 - mean(e.map(prob))) + 1 / mean(s.map(prob)) + 1 / (1 - mean(g.map(prob))));
    expect(m.harmonic.probability).toBeCloseTo(ho, 14);
    expect(m.perClass.map((c) => c.className)).toEqual(['cat', 'dog', 'ship']);
    expect(m.perClass[1].accuracy.probability).toBeCloseTo(mean(pick((c, k) => c === 'dog' && k === 'name').map(prob)), 14);
    expect(m.perClass.map((c) => c.erased)).toEqual([true, false, false]);
  });

  test('a perfect eraser scores H_o = 1, the original model (which draws everything) scores 0', () => {
    const p = protocol(['cat']);
    const oneHot = (label: string) => labels.map((l) => (l === label ? 1 : 0));
    const perfect = p.prompts.flatMap((prompt, i) => p.seeds.map((seed) => ({ prompt: i, seed, probabilities: oneHot(prompt.className === 'cat' ? 'frog' : prompt.className) })));
    expect(scoreImages(p, labels, perfect).harmonic).toEqual({ probability: 1, top1: 1 });
    const original = p.prompts.flatMap((prompt, i) => p.seeds.map((seed) => ({ prompt: i, seed, probabilities: oneHot(prompt.className) })));
    const m = scoreImages(p, labels, original);
    expect([m.efficacy.top1, m.specificity.top1, m.generality.top1, m.harmonic.top1]).toEqual([1, 1, 1, 0]);
  });

  test('CLIP score averages the kept prompts only', () => {
    const p = protocol(['dog']);
    const images = randomImages(p, 2).map((im) => ({ ...im, clipScore: p.prompts[im.prompt].className === 'dog' ? 99 : 20 + im.seed }));
    expect(scoreImages(p, labels, images).clipScore).toBeCloseTo(24, 12);
  });

  test('a class the judge does not know, or a probability list of the wrong length, is named', () => {
    const p = protocol(['cat']);
    expect(() => scoreImages(p, ['cat', 'dog'], [])).toThrow('the judge has no label "ship"');
    expect(() => scoreImages(p, labels, [{ prompt: 0, seed: 3, probabilities: [1] }])).toThrow('has 1 probabilities, the judge has 4 labels');
  });

  test('softmax is stable for large logits and honours the scale; argmax takes the first maximum', () => {
    const p = softmax([1000, 1001, 999]);
    const e = [Math.exp(-1), 1, Math.exp(-2)];
    const z = e[0] + e[1] + e[2];
    p.forEach((v, i) => expect(v).toBeCloseTo(e[i] / z, 14));
    const scaled = softmax([0.3, 0.31], 100);
    expect(scaled[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(argmax([0.2, 0.5, 0.5])).toBe(1);
  });
});
