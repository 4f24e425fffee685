/**
 * RealEra's object table on the concept world, "erase one class" for each class: the original
 * model, UCE closed form and RealEra closed form (each erasing the class and retaining the other
 * nine), and the fine-tuned erasures (RealEra noise alignment on the UCE edit or, as the paper
 * does, on RealEra's closed form; ESD-x; CRCE) trained with
 * that same concept set, with Acc_e, Acc_s, Acc_g, H_o per class and averaged. Same protocol code
 * as `lethe eval` (runEvaluation), with the original model's images made once and shared by every
 * class.
 *
 *   node bin/run-ts.mjs bench/eval-table.node.ts --pack public/concept-world/pack [--classes cat,dog]
 *     [--methods uce,realera,realera-align,realera-full,esd-x,crce] [--seeds 2] [--steps 20] [--templates 7]
 *     [--judge public/concept-world/judge.onnx] [--out bench/results/eval-table] [--readme README.md]
 *     [--append] [--train-steps realera=6,esd-x=12,crce=4] [--lr 2e-2 | esd-x=1e-2,...] [--rank 4]
 *     [--latent-steps 4] [--retains-per-step 1] [--train-seed 0]
 *
 * Writes one report per class (<out>/<class>.json, replayable with `lethe eval --replay`, which
 * re-runs the closed-form edits from their recipes and reads each fine-tuned edit from its LoRA
 * file, <out>/<class>-<objective>.safetensors, beside the report) and the table (<out>/table.md);
 * prints progress with an ETA. --append keeps the runs already in <out>/<class>.json (same
 * protocol) and adds only the methods they lack, so the slow fine-tuned rows can be measured
 * after the closed-form ones. With --readme, the table and the command that made it also replace
 * what stands between the file's `<!-- eval-table:begin -->` and `<!-- eval-table:end -->` lines.
 *
 * Fine-tuning here is sized for SwiftShader (a handful of steps at a high learning rate; see
 * bench/fine-tune-effect.node.ts); on a GPU use the papers' settings (--train-steps
 * realera=200,esd-x=1000,crce=300 --lr 1e-5 --latent-steps 50).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { packSpecFromArg } from '../src/cli/pack-arg.ts';
import { createNodeEngine } from '../src/engine/node-engine.ts';
import { trainingRecipe } from '../src/cli/commands/train.ts';
import type { FineTuneObjective } from '../src/erasure/fine-tune/fine-tune-options.ts';
import type { ErasureMethod } from '../src/erasure/recipe.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../src/evaluation/judges/concept-world-judge.ts';
import type { JudgeImage } from '../src/evaluation/judges/judge.ts';
import { formatAccuracy } from '../src/evaluation/summary-table.ts';
import { cifar10Preset, parseConceptWorld, selectClasses } from '../src/evaluation/presets.ts';
import { planPrompts, seedList, type EvaluationProtocol } from '../src/evaluation/protocol.ts';
import { parseReport, serializeReport, type EvaluationReport, type EvaluationRun } from '../src/evaluation/report.ts';
import { runEvaluation, type ImageSource } from '../src/evaluation/runner.ts';
import { NodeOnnxRunner } from '../src/pipeline/onnx/node-runner.ts';
import { isLearningRate, isStepCount, parsePerObjective } from './per-objective.ts';

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
    append: { type: 'boolean' },
    'train-steps': { type: 'string' },
    lr: { type: 'string' },
    rank: { type: 'string' },
    'latent-steps': { type: 'string' },
    'retains-per-step': { type: 'string' },
    'train-seed': { type: 'string' },
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
/** Closed forms by their ErasureMethod, fine-tuned erasures by their objective ("realera-align": RealEra's noise alignment on the UCE edit). */
const METHODS = {
  uce: { label: 'UCE', closedForm: 'uce', objective: null },
  realera: { label: 'RealEra', closedForm: 'realera', objective: null },
  'realera-align': { label: 'UCE + RealEra alignment', closedForm: 'uce', objective: 'realera' },
  // The paper's whole method: alignment on RealEra's own closed form (whose preserved set holds the beyond-concept samples).
  'realera-full': { label: 'RealEra + alignment', closedForm: 'realera', objective: 'realera' },
  'esd-x': { label: 'ESD-x', closedForm: 'uce', objective: 'esd-x' },
  crce: { label: 'CRCE', closedForm: 'uce', objective: 'crce' },
} as const satisfies Record<string, { label: string; closedForm: ErasureMethod; objective: FineTuneObjective | null }>;
type MethodName = keyof typeof METHODS;
const methods = (values.methods ?? 'uce,realera').split(',') as MethodName[];
for (const m of methods) if (!Object.hasOwn(METHODS, m)) throw new Error(`--methods: ${m} is not one of ${Object.keys(METHODS).join(', ')}`);
const trainSteps = parsePerObjective(values['train-steps'], '--train-steps', { realera: 6, 'esd-x': 12, crce: 4 }, isStepCount);
const learningRates = parsePerObjective(values.lr, '--lr', { realera: 2e-2, 'esd-x': 1e-2, crce: 2e-2 }, isLearningRate);
const rank = Number(values.rank ?? 4);
const latentSteps = Number(values['latent-steps'] ?? 4);
const retainsPerStep = Number(values['retains-per-step'] ?? 1);
const trainSeed = Number(values['train-seed'] ?? 0);
const trained = methods.map((m) => METHODS[m].objective).filter((o): o is FineTuneObjective => o !== null);
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

const reportBase = (protocol: EvaluationProtocol): Omit<EvaluationReport, 'runs'> => ({ format: 'lethe-evaluation', version: 1, pack: { id: pack.id, description: pack.description }, protocol, judge: { descriptor: judge.descriptor, labels: [...judge.labels] } });
const perClassPrompts = (erased: string) => planPrompts(classes, [erased], templates);
const protocolOf = (erased: string): EvaluationProtocol => ({ classes, erased: [erased], prompts: perClassPrompts(erased), seeds, sampling });
const canonical = (value: unknown) => JSON.stringify(value);

/** --append: the runs already measured for this class under the same protocol, pack and judge (none otherwise). */
function storedRuns(erased: string): EvaluationRun[] {
  const file = join(outDir, `${erased}.json`);
  if (!values.append || !existsSync(file)) return [];
  const stored = parseReport(readFileSync(file, 'utf8'), file);
  const same = stored.pack.id === pack.id && canonical(stored.protocol) === canonical(protocolOf(erased)) && canonical(stored.judge.descriptor) === canonical(judge.descriptor);
  if (!same) throw new Error(`--append: ${file} was measured with another pack, judge or protocol (seeds, templates, steps); move it away or drop --append`);
  return stored.runs;
}
const storedByClass = new Map(erasedClasses.map((c) => [c, storedRuns(c)]));
const hasRun = (erased: string, label: string) => storedByClass.get(erased)!.some((r) => r.label === label);

// Images still to make: originals of every prompt once (unless stored), then every prompt per class and method not stored.
const originalPrompts = new Set(erasedClasses.filter((c) => !hasRun(c, 'original')).flatMap((c) => perClassPrompts(c).map((p) => p.text)));
const runsToMake = erasedClasses.reduce((n, c) => n + methods.filter((m) => !hasRun(c, METHODS[m].label)).length, 0);
const totalImages = (originalPrompts.size + runsToMake * perClassPrompts(erasedClasses[0]).length) * seeds.length;
const progress = (what: string) => {
  const elapsed = (performance.now() - started) / 1000;
  const eta = generated > 0 ? (elapsed / generated) * (totalImages - generated) : NaN;
  process.stderr.write(`[${generated}/${totalImages} images, ${elapsed.toFixed(0)} s, ETA ${Number.isFinite(eta) ? `${(eta / 60).toFixed(1)} min` : '?'} (images only)] ${what}\n`);
};

/** A training recipe: the closed-form edit's recipe (concept set, templates) plus this bench's fineTune section, as `lethe train` makes it. */
function fineTuneRecipe(closedFormRecipe: string, objective: FineTuneObjective): string {
  const overrides = { steps: trainSteps[objective], learningRate: learningRates[objective], rank, alpha: rank, latentSteps, seed: trainSeed, retainsPerStep };
  return trainingRecipe(closedFormRecipe, 'closed-form edit', { objective, overrides }, engine.loadedModel?.pack.manifest.dims.sampleSize ?? 8);
}

/** Seconds per training run, per objective (the table's footnote). */
const trainingSeconds = new Map<FineTuneObjective, number[]>();
const reports: EvaluationReport[] = [];
for (const erased of erasedClasses) {
  const protocol = protocolOf(erased);
  const runs: EvaluationRun[] = [...storedByClass.get(erased)!];
  const evaluate = async (label: string, variant: 'original' | 'edited', edit: EvaluationRun['edit']) => {
    const report = await runEvaluation({ protocol, runs: [{ label, variant, edit }], judge, source, pack: { id: pack.id, description: pack.description } });
    runs.push(report.runs[0]);
    progress(`${erased}: ${label} H_o ${formatAccuracy(report.runs[0].metrics.harmonic.probability)}`);
    // After every run, so that a cut-short bench keeps what it measured (--append goes on from there).
    writeFileSync(join(outDir, `${erased}.json`), serializeReport({ ...reportBase(protocol), runs }));
  };
  if (!hasRun(erased, 'original')) await evaluate('original', 'original', { kind: 'original' });
  const concepts = { kind: 'object' as const, targets: [{ concept: erased }], retains: classes.filter((c) => c.name !== erased).map((c) => ({ concept: c.name })) };
  for (const method of methods) {
    const { label, closedForm, objective } = METHODS[method];
    if (hasRun(erased, label)) continue;
    const summary = await engine.erase({ concepts, method: closedForm, tokens: 'subject' });
    if (objective === null) {
      await evaluate(label, 'edited', { kind: 'recipe', id: summary.id, recipe: summary.recipe });
      continue;
    }
    // Fine-tuned: train, keep the exact fp32 LoRA beside the report (replay reads it), evaluate that file as the studio would.
    const t0 = performance.now();
    await engine.train({ jobId: `eval-table-${erased}-${objective}`, recipe: fineTuneRecipe(summary.recipe, objective), checkpointEvery: 0 }, (p) => {
      if (p.step === p.steps || p.step % 5 === 0) progress(`${erased}: ${label} step ${p.step}/${p.steps}, loss ${p.loss.toExponential(2)}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    trainingSeconds.set(objective, [...(trainingSeconds.get(objective) ?? []), seconds]);
    const lora = await engine.exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp32' });
    const fileName = `${erased}-${method}.safetensors`;
    writeFileSync(join(outDir, fileName), lora.bytes);
    const imported = await engine.importLora(lora.bytes, fileName, 1);
    progress(`${erased}: ${label} trained in ${seconds.toFixed(0)} s -> ${fileName}`);
    await evaluate(label, 'edited', { kind: 'lora', id: imported.editId, fileName, strength: 1 });
  }
  await engine.clearEdit();
  // Rows in --methods order whatever was stored first.
  const order = [...new Set(['original', ...storedByClass.get(erased)!.map((r) => r.label), ...methods.map((m) => METHODS[m].label)])];
  const ordered = order.map((l) => runs.find((r) => r.label === l)).filter((r): r is EvaluationRun => r !== undefined);
  const report: EvaluationReport = { ...reportBase(protocol), runs: ordered };
  writeFileSync(join(outDir, `${erased}.json`), serializeReport(report));
  reports.push(report);
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
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
  ...(trainingSeconds.size
    ? [
        `Fine-tuned rows: the same concept set (the class erased, the other nine retained), rank ${rank} LoRA on attn2 to_k/to_v, Adam, batch 1, seed ${trainSeed}, training latents from ${latentSteps} DDIM steps, ${retainsPerStep} retained concept(s) per step (CRCE's N; RealEra's even steps); ` +
          trained.map((o) => `${o} ${trainSteps[o]} steps at lr ${learningRates[o]} (${mean(trainingSeconds.get(o) ?? []).toFixed(0)} s per run)`).join(', ') +
          '; each evaluated as its exact fp32 LoRA file.',
        '',
      ]
    : []),
  generated === 0
    ? `This run made no images: every row is read from the stored reports in ${outDir}/ (--append).`
    : `This run: ${generated} images${trainingSeconds.size ? ` and ${[...trainingSeconds.values()].flat().length} training runs` : ''} in ${((performance.now() - started) / 60000).toFixed(1)} min (${((performance.now() - started) / generated / 1000).toFixed(2)} s per image, generation and judging${trainingSeconds.size ? ' and training' : ''}).`,
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
