import { describe, expect, test } from 'vitest';
import { scoreImages } from '../../src/evaluation/metrics.ts';
import { planPrompts, type EvaluationProtocol } from '../../src/evaluation/protocol.ts';
import type { EvaluationReport, EvaluationRun } from '../../src/evaluation/report.ts';
import { hasOriginal, mergeReports } from '../../src/evaluation/session.ts';

const classes = [
  { name: 'cat', synonyms: [] },
  { name: 'dog', synonyms: [] },
];
const protocol: EvaluationProtocol = { classes, erased: ['cat'], prompts: planPrompts(classes, ['cat'], ['{object}']), seeds: [0], sampling: { steps: 2, guidance: 7.5, scheduler: 'ddim', negativePrompt: '' } };
const labels = ['cat', 'dog'];
function run(label: string, edit: EvaluationRun['edit'], p: number): EvaluationRun {
  const images = protocol.prompts.map((_, prompt) => ({ prompt, seed: 0, probabilities: [p, 1 - p] }));
  return { label, edit, images, metrics: scoreImages(protocol, labels, images), ms: 1 };
}
function report(runs: EvaluationRun[], seeds = [0]): EvaluationReport {
  return { format: 'lethe-evaluation', version: 1, pack: { id: 'p', description: 'd' }, protocol: { ...protocol, seeds }, judge: { descriptor: { kind: 'concept-world', sha256: 'x', head: 'object_logits', inputSize: 64 }, labels }, runs };
}
const original = run('original', { kind: 'original' }, 0.9);
const uce = run('uce', { kind: 'recipe', id: 'a'.repeat(64), recipe: '{}' }, 0.2);
const realera = run('realera', { kind: 'recipe', id: 'b'.repeat(64), recipe: '{}' }, 0.1);

describe('several edits side by side', () => {
  test('comparable evaluations merge: one original first, edits appended, the same edit replaced', () => {
    let table = mergeReports(null, report([original, uce]));
    expect(hasOriginal(table)).toBe(true);
    table = mergeReports(table, report([realera]));
    expect(table.runs.map((r) => r.label)).toEqual(['original', 'uce', 'realera']);
    const uceAgain = { ...uce, label: 'uce (again)' };
    table = mergeReports(table, report([uceAgain]));
    expect(table.runs.map((r) => r.label)).toEqual(['original', 'uce (again)', 'realera']);
  });

  test('a different protocol starts a new table', () => {
    const table = mergeReports(report([original, uce]), report([realera], [0, 1]));
    expect(table.runs.map((r) => r.label)).toEqual(['realera']);
    expect(hasOriginal(table)).toBe(false);
    expect(hasOriginal(null)).toBe(false);
  });
});
