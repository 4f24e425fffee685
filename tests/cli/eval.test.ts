import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { fineTuneDefaults } from '../../src/erasure/fine-tune/fine-tune-options.ts';
import { parseReport, serializeReport } from '../../src/evaluation/report.ts';
import { forgeStandInJudge } from '../support/forge-judge.ts';

const dir = mkdtempSync(join(tmpdir(), 'lethe-eval-cli-'));
const path = (name: string) => join(dir, name);
process.env.LETHE_CACHE_DIR = path('cache');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args) => void err.push(args.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return { out, err };
}
afterEach(() => vi.restoreAllMocks());

beforeAll(async () => {
  const judge = await forgeStandInJudge();
  writeFileSync(path('judge.onnx'), judge.onnx);
  writeFileSync(path('judge.json'), JSON.stringify(judge.json));
  writeFileSync(path('classes.txt'), 'cat: kitty\ndog\n');
});

describe('lethe eval on the demo pack with the stand-in judge', () => {
  const common = ['--pack', 'demo:tiny-sd15', '--class-list', path('classes.txt'), '--templates', '1', '--seeds', '1', '--steps', '1', '--judge', `concept-world:${path('judge.onnx')}`];

  test('erase, eval --recipe writes a report and CSV with before and after; --replay reproduces every number; a tampered report is refused', async () => {
    capture();
    expect(await main(['erase', '--pack', 'demo:tiny-sd15', '--concept', 'cat', '--retain', 'dog', '--out', path('recipe.json')])).toBe(0);
    vi.restoreAllMocks();
    const first = capture();
    expect(await main(['eval', ...common, '--recipe', path('recipe.json'), '--out', path('report.json'), '--csv', path('table.csv')])).toBe(0);
    const report = parseReport(readFileSync(path('report.json'), 'utf8'), 'report.json');
    expect(report.protocol.erased).toEqual(['cat']); // from the recipe's target
    expect(report.protocol.prompts.map((p) => p.text)).toEqual(['a photo of the cat', 'a photo of the dog', 'a photo of the kitty']);
    expect(report.runs.map((r) => r.label)).toEqual(['original', expect.stringMatching(/^edit [0-9a-f]{8}$/)]);
    expect(first.out.join('\n')).toMatch(/\| original \| [0-9.]+ \([0-9.]+\) \|/);
    expect(first.err.some((line) => /\[6\/6\].*ETA 0s/.test(line))).toBe(true);
    const csv = readFileSync(path('table.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('run,edit,acc_e,acc_s,acc_g,h_o,acc_e_top1,acc_s_top1,acc_g_top1,h_o_top1,clip_score,acc_cat,acc_dog');
    expect(csv).toHaveLength(3);
    expect(Number(csv[1].split(',')[2])).toBeCloseTo(report.runs[0].metrics.efficacy.probability, 6);

    vi.restoreAllMocks();
    const replay = capture();
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--replay', path('report.json'), '--judge', `concept-world:${path('judge.onnx')}`])).toBe(0);
    expect(replay.out.join('\n')).toContain('replay: every number of');

    const tampered = JSON.parse(readFileSync(path('report.json'), 'utf8'));
    tampered.runs[0].metrics.efficacy.probability += 0.1;
    writeFileSync(path('tampered.json'), JSON.stringify(tampered));
    vi.restoreAllMocks();
    const refused = capture();
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--replay', path('tampered.json'), '--judge', `concept-world:${path('judge.onnx')}`])).not.toBe(0);
    expect(refused.err.join('\n')).toMatch(/runs\[0\]\.metrics: do not follow from the run's images \(Acc_e/);
    expect(serializeReport(report)).toContain('"format": "lethe-evaluation"');
  }, 120_000);

  test('a LoRA run replays from the file beside its report; without it the message says so; a training recipe is refused', async () => {
    capture();
    expect(await main(['erase', '--pack', 'demo:tiny-sd15', '--concept', 'cat', '--retain', 'dog', '--out', path('lora-recipe.json')])).toBe(0);
    mkdirSync(path('reports'));
    const lora = join(path('reports'), 'cat-edit.safetensors');
    expect(await main(['export', '--recipe', path('lora-recipe.json'), '--pack', 'demo:tiny-sd15', '--format', 'kohya', '--rank', 'exact', '--dtype', 'fp32', '--out', lora])).toBe(0);
    expect(await main(['eval', ...common, '--lora', lora, '--erased', 'cat', '--out', join(path('reports'), 'report.json')])).toBe(0);
    const report = parseReport(readFileSync(join(path('reports'), 'report.json'), 'utf8'), 'report.json');
    expect(report.runs[1].edit).toMatchObject({ kind: 'lora', fileName: 'cat-edit.safetensors', strength: 1 });

    vi.restoreAllMocks();
    const replay = capture();
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--replay', join(path('reports'), 'report.json'), '--judge', `concept-world:${path('judge.onnx')}`])).toBe(0);
    expect(replay.out.join('\n')).toContain('replay: every number of');

    renameSync(lora, path('moved.safetensors'));
    vi.restoreAllMocks();
    const missing = capture();
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--replay', join(path('reports'), 'report.json'), '--judge', `concept-world:${path('judge.onnx')}`])).toBe(2);
    expect(missing.err.join('\n')).toContain('used the LoRA cat-edit.safetensors, which is not beside the report; give it with --lora');
    vi.restoreAllMocks();
    const given = capture();
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--replay', join(path('reports'), 'report.json'), '--lora', path('moved.safetensors'), '--judge', `concept-world:${path('judge.onnx')}`])).toBe(0);
    expect(given.out.join('\n')).toContain('replay: every number of');

    const training = JSON.parse(readFileSync(path('lora-recipe.json'), 'utf8'));
    training.fineTune = fineTuneDefaults('esd-x', 8);
    writeFileSync(path('training.json'), JSON.stringify(training));
    vi.restoreAllMocks();
    const refused = capture();
    expect(await main(['eval', ...common, '--recipe', path('training.json'), '--out', path('never.json')])).toBe(1);
    expect(refused.err.join('\n')).toContain('fineTune: this recipe describes a fine-tuning run (esd-x, 1000 steps), whose result is a LoRA file');
    expect(existsSync(path('never.json'))).toBe(false);
  }, 180_000);

  test('usage errors name the flag', async () => {
    const { err } = capture();
    expect(await main(['eval', ...common, '--out', path('x.json')])).toBe(2);
    expect(err.join('\n')).toContain('name the erased class with --erased');
    expect(await main(['eval', ...common, '--erased', 'cow', '--out', path('x.json')])).not.toBe(0);
    expect(err.join('\n')).toContain('erased class "cow" is not one of the classes (cat, dog)');
    expect(await main(['eval', '--pack', 'demo:tiny-sd15', '--judge', 'oracle', '--erased', 'cat', '--out', path('x.json')])).toBe(2);
    expect(err.join('\n')).toContain('--judge must be concept-world');
  }, 60_000);
});
