/**
 * RealEra's object table on the concept world, "erase one class" for each class: the original
 * model, UCE closed form and RealEra closed form (each erasing the class and retaining the other
 * nine), with Acc_e, Acc_s, Acc_g, H_o per class and averaged. Same protocol code as `lethe eval`
 * (runEvaluation), with the original model's images made once and shared by every class.
 *
 *   node bin/run-ts.mjs bench/eval-table.node.ts --pack public/concept-world/pack [--classes cat,dog]
 *     [--methods uce,realera] [--seeds 2] [--steps 20] [--templates 7] [--judge public/concept-world/judge.onnx]
 *     [--out bench/results/eval-table] [--readme README.md]
 *
 * Writes one report per class (<out>/<class>.json, replayable with `lethe eval --replay`, which
 * re-runs both edits) and the table (<out>/table.md); prints progress with an ETA. With --readme,
 * the table and the command that made it also replace what stands between the file's
 * `<!-- eval-table:begin -->` and `<!-- eval-table:end -->` lines.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { packSpecFromArg } from '../src/cli/pack-arg.ts';
import { createNodeEngine } from '../src/engine/node-engine.ts';
import type { ErasureMethod } from '../src/erasure/recipe.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../src/evaluation/judges/concept-world-judge.ts';
import type { JudgeImage } from '../src/evaluation/judges/judge.ts';
import { formatAccuracy } from '../src/evaluation/summary-table.ts';
import { cifar10Preset, parseConceptWorld, selectClasses } from '../src/evaluation/presets.ts';
import { planPrompts, seedList, type EvaluationProtocol } from '../src/evaluation/protocol.ts';
import { serializeReport, type EvaluationReport, type EvaluationRun } from '../src/evaluation/report.ts';
import { runEvaluation, type ImageSource } from '../src/evaluation/runner.ts';
import { NodeOnnxRunner } from '../src/pipeline/onnx/node-runner.ts';

const { values } = parseArgs({
  options: {
    pack: { type: 'string' },
    world: { type: 'string' },
    judge: { type: 'string' },
    classes: { type: 'string' },
    methods: { type: 'string' },
    seeds: { type: 'string' },
    steps: { type: 'string' },
    templates: { type: 'string' },
    out: { type: 'string' },
    readme: { type: 'string' },
  },
});
if (!values.pack) throw new Error('--pack is required (the concept-world pack: public/concept-world/pack; demo for a smoke run)');
const worldPath = values.world ?? 'public/concept-world/world.json';
const judgePath = values.judge ?? 'public/concept-world/judge.onnx';
const outDir = values.out ?? 'bench/results/eval-table';
const README_BEGIN = '<!-- eval-table:begin -->';
const README_END = '<!-- eval-table:end -->';
// Checked before the run, not after it: a missing marker should not cost the whole run.
const readmeText = values.readme ? readFileSync(values.readme, 'utf8') : null;
if (values.readme && readmeText !== null && !(readmeText.includes(`\n${README_BEGIN}\n`) && readmeText.includes(`\n${README_END}\n`) && readmeText.indexOf(README_BEGIN) < readmeText.indexOf(README_END)))
  throw new Error(`--readme ${values.readme}: expected a line ${README_BEGIN} and, after it, a line ${README_END}`);
const methods = (values.methods ?? 'uce,realera').split(',') as ErasureMethod[];
const seeds = seedList(Number(values.seeds ?? 2));
const steps = Number(values.steps ?? 20);

const preset = cifar10Preset(parseConceptWorld(JSON.parse(readFileSync(worldPath, 'utf8')), basename(worldPath)));
const classes = preset.classes;
const erasedClasses = values.classes ? selectClasses(classes, values.classes.split(',')).map((c) => c.name) : classes.map((c) => c.name);
const templates = preset.templates.slice(0, Number(values.templates ?? preset.templates.length));
const labelsPath = existsSync(join(dirname(judgePath), 'judge.json')) ? join(dirname(judgePath), 'judge.json') : worldPath;
const labels = parseConceptWorldLabels(JSON.parse(readFileSync(labelsPath, 'utf8')), basename(labelsPath));
mkdirSync(outDir, { recursive: true });

const engine = await createNodeEngine();
const pack = await engine.loadPack(packSpecFromArg(values.pack));
const judge = await createConceptWorldJudge(new NodeOnnxRunner(), new Uint8Array(readFileSync(judgePath)), labels, { file: basename(judgePath) });
const sampling = { steps, guidance: 7.5, scheduler: 'ddim' as const, negativePrompt: '' };

// The original model's images do not depend on the erased class: made once, shared by every class.
const originals = new Map<string, { image: JudgeImage; editId: null }>();
let generated = 0;
const started = performance.now();
const source: ImageSource = {
  async generate({ prompt, seed, variant }, signal) {
    const key = `${prompt}\u0000${seed}`;
    if (variant === 'original' && originals.has(key)) return originals.get(key)!;
    signal.throwIfAborted();
    const image = await engine.generate({ jobId: `bench-${generated}`, prompt, seed, steps, guidance: sampling.guidance, scheduler: sampling.scheduler, variant });
    generated++;
    const made = { image: { width: image.width, height: image.height, rgba: image.rgba }, editId: image.editId };
    if (variant === 'original') originals.set(key, made as { image: JudgeImage; editId: null });
    return made;
  },
};

// Images still to make: originals of every prompt once, then every prompt per class and method.
const perClassPrompts = (erased: string) => planPrompts(classes, [erased], templates);
const originalPrompts = new Set(erasedClasses.flatMap((c) => perClassPrompts(c).map((p) => p.text)));
const totalImages = (originalPrompts.size + erasedClasses.length * methods.length * perClassPrompts(erasedClasses[0]).length) * seeds.length;
const progress = (what: string) => {
  const elapsed = (performance.now() - started) / 1000;
  const eta = generated > 0 ? (elapsed / generated) * (totalImages - generated) : NaN;
  process.stderr.write(`[${generated}/${totalImages} images, ${elapsed.toFixed(0)} s, ETA ${Number.isFinite(eta) ? `${(eta / 60).toFixed(1)} min` : '?'}] ${what}\n`);
};

const reports: EvaluationReport[] = [];
for (const erased of erasedClasses) {
  const protocol: EvaluationProtocol = { classes, erased: [erased], prompts: perClassPrompts(erased), seeds, sampling };
  const runs: EvaluationRun[] = [];
  const evaluate = async (label: string, variant: 'original' | 'edited', edit: EvaluationRun['edit']) => {
    const report = await runEvaluation({ protocol, runs: [{ label, variant, edit }], judge, source, pack: { id: pack.id, description: pack.description } });
    runs.push(report.runs[0]);
    progress(`${erased}: ${label} H_o ${formatAccuracy(report.runs[0].metrics.harmonic.probability)}`);
  };
  await evaluate('original', 'original', { kind: 'original' });
  for (const method of methods) {
    const summary = await engine.erase({
      concepts: { kind: 'object', targets: [{ concept: erased }], retains: classes.filter((c) => c.name !== erased).map((c) => ({ concept: c.name })) },
      method,
      tokens: 'subject',
    });
    await evaluate(method === 'uce' ? 'UCE' : 'RealEra', 'edited', { kind: 'recipe', id: summary.id, recipe: summary.recipe });
  }
  const report: EvaluationReport = { format: 'lethe-evaluation', version: 1, pack: { id: pack.id, description: pack.description }, protocol, judge: { descriptor: judge.descriptor, labels: [...judge.labels] }, runs };
  writeFileSync(join(outDir, `${erased}.json`), serializeReport(report));
  reports.push(report);
}

// Mean over the erased classes of each number (H_o per class, then averaged).
const rows = reports[0].runs.map((run, index) => {
  const mean = (pick: (r: EvaluationRun) => number) => reports.reduce((sum, r) => sum + pick(r.runs[index]), 0) / reports.length;
  const cell = (p: (r: EvaluationRun) => number, t: (r: EvaluationRun) => number) => `${formatAccuracy(mean(p))} (${formatAccuracy(mean(t))})`;
  return `| ${run.label} | ${cell((r) => r.metrics.efficacy.probability, (r) => r.metrics.efficacy.top1)} | ${cell((r) => r.metrics.specificity.probability, (r) => r.metrics.specificity.top1)} | ${cell((r) => r.metrics.generality.probability, (r) => r.metrics.generality.top1)} | ${cell((r) => r.metrics.harmonic.probability, (r) => r.metrics.harmonic.top1)} |`;
});
const perClass = reports.map((r) => `| ${r.protocol.erased[0]} | ${r.runs.map((run) => formatAccuracy(run.metrics.harmonic.probability)).join(' | ')} |`);
const table = [
  `Erase one class, averaged over ${reports.length} classes (${erasedClasses.join(', ')}); ${templates.length} evaluation templates x ${seeds.length} seeds (${seeds.join(', ')}), ${steps} DDIM steps, guidance 7.5; pack ${pack.id.slice(0, 12)}; concept-world judge ${judge.descriptor.kind === 'concept-world' ? judge.descriptor.sha256.slice(0, 12) : ''}; mean probability (top-1).`,
  '',
  '| model | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `| H_o per erased class | ${reports[0].runs.map((r) => r.label).join(' | ')} |`,
  `| --- | ${reports[0].runs.map(() => '---').join(' | ')} |`,
  ...perClass,
  '',
  `${generated} images in ${((performance.now() - started) / 60000).toFixed(1)} min (${((performance.now() - started) / Math.max(1, generated) / 1000).toFixed(2)} s per image, generation and judging).`,
].join('\n');
writeFileSync(join(outDir, 'table.md'), `${table}\n`);
console.log(table);
if (values.readme) {
  // Read again: the file may have been edited during the run.
  const text = readFileSync(values.readme, 'utf8');
  const begin = text.indexOf(`\n${README_BEGIN}\n`);
  const end = text.indexOf(`\n${README_END}\n`);
  if (begin < 0 || end < begin) throw new Error(`--readme ${values.readme}: the markers are gone; the table is in ${join(outDir, 'table.md')}`);
  const command = ['node bin/run-ts.mjs bench/eval-table.node.ts', ...process.argv.slice(2)].join(' ');
  writeFileSync(values.readme, `${text.slice(0, begin + README_BEGIN.length + 2)}\n\`${command}\`:\n\n${table}\n\n${text.slice(end + 1)}`);
  process.stderr.write(`table written into ${values.readme}\n`);
}
await judge.release();
await engine.dispose();
