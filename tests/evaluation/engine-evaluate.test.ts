import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EvaluationProgressEvent, EvaluationRequest } from '../../src/engine/api.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { scoreImages } from '../../src/evaluation/metrics.ts';
import { planPrompts, type EvaluationProtocol } from '../../src/evaluation/protocol.ts';
import { parseReport, serializeReport } from '../../src/evaluation/report.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { forgeStandInJudge, type StandInJudge } from '../support/forge-judge.ts';

const engine = await createNodeEngine({ cache: new NodeDirBlobCache(mkdtempSync(join(tmpdir(), 'lethe-eval-'))) });
let standIn: StandInJudge;
beforeAll(async () => {
  await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
  standIn = await forgeStandInJudge();
});
afterAll(() => engine.dispose());

const classes = [
  { name: 'cat', synonyms: ['kitty'] },
  { name: 'dog', synonyms: ['hound'] },
];
const protocol: EvaluationProtocol = {
  classes,
  erased: ['cat'],
  prompts: planPrompts(classes, ['cat'], ['a photo of the {object}']),
  seeds: [0, 1],
  sampling: { steps: 2, guidance: 7.5, scheduler: 'ddim', negativePrompt: '' },
};
const request = (jobId: string, runs: EvaluationRequest['runs']): EvaluationRequest => ({
  jobId,
  protocol,
  judge: { kind: 'concept-world', onnx: standIn.onnx, labels: standIn.labels },
  runs,
  images: true,
});

describe('engine.evaluate on the demo pack with the stand-in judge', () => {
  test('before and after with the same seeds: the edit moves the erased prompts, progress counts every image, the report replays', async () => {
    await engine.erase({ concepts: { kind: 'object', targets: [{ concept: 'cat' }], preserve: [{ concept: 'dog' }] }, method: 'uce', tokens: 'subject' });
    const progress: EvaluationProgressEvent[] = [];
    const result = await engine.evaluate(request('eval-1', [{ kind: 'original' }, { kind: 'edited' }]), (p) => void progress.push(p));
    const { report } = result;
    // 3 prompts (cat, dog, kitty) x 2 seeds x 2 runs.
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: 13 }, (_, i) => i));
    expect(progress.at(-1)).toMatchObject({ total: 12, etaMs: 0, jobId: 'eval-1' });
    expect(report.runs.map((r) => r.edit.kind)).toEqual(['original', 'recipe']);
    expect(report.runs[1].edit.kind === 'recipe' && JSON.parse(report.runs[1].edit.recipe).concepts.targets[0].concept).toBe('cat');
    expect(report.judge.descriptor.kind).toBe('concept-world');
    for (const run of report.runs) {
      expect(run.images).toHaveLength(6);
      expect(run.metrics.efficacy.images).toBe(2);
      expect(run.metrics.specificity.images).toBe(2);
      expect(run.metrics.generality.images).toBe(2);
      expect(run.metrics).toEqual(scoreImages(protocol, report.judge.labels, run.images));
    }
    // Same seeds, different model: the erased class's images (and so their probabilities) change.
    const cat = (run: number) => report.runs[run].images.filter((im) => im.prompt === 0).map((im) => im.probabilities);
    expect(cat(1)).not.toEqual(cat(0));
    // The grid gets every image, before and after.
    expect(result.images).toHaveLength(12);
    expect(result.images[0]).toMatchObject({ run: 0, prompt: 0, seed: 0, width: 64, height: 64 });
    // Serialized and read back, the numbers follow from the images.
    const reread = parseReport(serializeReport(report), 'report.json');
    expect(reread.runs[1].metrics).toEqual(report.runs[1].metrics);
  }, 120_000);

  test('cancel stops an evaluation within an image; a missing edit is named', async () => {
    const started = engine.evaluate(request('eval-cancel', [{ kind: 'original' }]), (p) => {
      if (p.done === 1) void engine.cancel('eval-cancel');
    });
    await expect(started).rejects.toThrow(/cancelled|aborted/i);
    await engine.clearEdit();
    await expect(engine.evaluate(request('eval-none', [{ kind: 'edited' }]))).rejects.toThrow('there is no edit to evaluate');
  }, 60_000);
});
