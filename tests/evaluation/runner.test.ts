import { describe, expect, test } from 'vitest';
import type { Judge, JudgeImage } from '../../src/evaluation/judges/judge.ts';
import { planPrompts, type EvaluationProtocol } from '../../src/evaluation/protocol.ts';
import { EditChangedError, runEvaluation, type EvaluationProgress, type ImageSource } from '../../src/evaluation/runner.ts';

const classes = [
  { name: 'cat', synonyms: ['kitty'] },
  { name: 'dog', synonyms: [] },
];
const protocol: EvaluationProtocol = { classes, erased: ['cat'], prompts: planPrompts(classes, ['cat'], ['{object}']), seeds: [5, 6], sampling: { steps: 1, guidance: 1, scheduler: 'ddim', negativePrompt: '' } };

/** A fake model: the image's one pixel encodes the prompt word and the variant, so the fake judge can read them back. */
function fakeSource(editIds: (string | null)[] = []): ImageSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async generate({ prompt, seed, variant }) {
      calls.push(`${variant}:${prompt}:${seed}`);
      const cat = prompt === 'cat' || prompt === 'kitty';
      const rgba = new Uint8ClampedArray([cat && variant === 'original' ? 255 : 0, 0, 0, 255]);
      return { image: { width: 1, height: 1, rgba }, editId: variant === 'original' ? null : (editIds.shift() ?? 'edit-1') };
    },
  };
}

/** Says "cat" with probability 0.9 for a red pixel, "dog" with 0.8 otherwise. */
const fakeJudge: Judge = {
  descriptor: { kind: 'concept-world', sha256: '0'.repeat(64), head: 'object_logits', inputSize: 1 },
  labels: ['cat', 'dog'],
  async classify(images: readonly JudgeImage[]) {
    return images.map((image) => (image.rgba[0] === 255 ? [0.9, 0.1] : [0.2, 0.8]));
  },
  async release() {},
};

describe('runEvaluation', () => {
  test('every prompt at every seed per run, same seeds before and after; progress with ETA from a clock', async () => {
    const source = fakeSource();
    const progress: EvaluationProgress[] = [];
    let clock = 0;
    const report = await runEvaluation({
      protocol,
      runs: [
        { label: 'original', variant: 'original', edit: { kind: 'original' } },
        { label: 'after', variant: 'edited', edit: { kind: 'recipe', id: 'edit-1', recipe: '{}' } },
      ],
      judge: fakeJudge,
      source,
      pack: { id: 'p', description: 'd' },
      now: () => (clock += 10),
      onProgress: (p) => progress.push(p),
    });
    expect(source.calls).toEqual(['original:cat:5', 'original:cat:6', 'original:dog:5', 'original:dog:6', 'original:kitty:5', 'original:kitty:6', 'edited:cat:5', 'edited:cat:6', 'edited:dog:5', 'edited:dog:6', 'edited:kitty:5', 'edited:kitty:6']);
    // First the total, before any image (what the studio shows while the first image is made).
    expect(progress.map((p) => p.done)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(progress[0]).toEqual({ done: 0, total: 12, run: 'original', prompt: protocol.prompts[0].text, seed: 5, elapsedMs: 0, etaMs: null });
    // The clock ticks 10 per reading: start 10, run start 20, first image 30 → 20 ms per image, 11 to go.
    expect(progress[1]).toMatchObject({ elapsedMs: 20, etaMs: 220, total: 12 });
    expect(progress.at(-1)!.etaMs).toBe(0);
    const [before, after] = report.runs;
    expect(before.metrics.efficacy.probability).toBeCloseTo(0.9, 12);
    expect(before.metrics.generality.probability).toBeCloseTo(0.9, 12);
    expect(after.metrics.efficacy.probability).toBeCloseTo(0.2, 12);
    expect(after.metrics.specificity.probability).toBeCloseTo(0.8, 12);
    expect(after.metrics.harmonic.probability).toBeCloseTo(0.8, 12);
    expect(report.judge.labels).toEqual(['cat', 'dog']);
  });

  test('an edit that changes under the evaluation, or a missing edit, stops it', async () => {
    const run = (source: ImageSource) => runEvaluation({ protocol, runs: [{ label: 'after', variant: 'edited', edit: { kind: 'recipe', id: 'a', recipe: '{}' } }], judge: fakeJudge, source, pack: { id: 'p', description: 'd' } });
    await expect(run(fakeSource(['a', 'b']))).rejects.toThrow(EditChangedError);
    const none: ImageSource = { generate: async () => ({ image: { width: 1, height: 1, rgba: new Uint8ClampedArray(4) }, editId: null }) };
    await expect(run(none)).rejects.toThrow('there is no edit');
  });

  test('an aborted signal stops before the next image', async () => {
    const controller = new AbortController();
    const source = fakeSource();
    const pending = runEvaluation({ protocol, runs: [{ label: 'original', variant: 'original', edit: { kind: 'original' } }], judge: fakeJudge, source, pack: { id: 'p', description: 'd' }, signal: controller.signal, onProgress: (p) => p.done === 3 && controller.abort(new Error('stop')) });
    await expect(pending).rejects.toThrow('stop');
    expect(source.calls).toHaveLength(3);
  });
});
