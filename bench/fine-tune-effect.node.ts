/**
 * What fine-tuning erases on the concept world: erase one class ("cat") with
 * the closed form alone (UCE), the closed form + RealEra noise alignment, ESD-x and CRCE, and
 * judge each model with the evaluation protocol (src/evaluation: runEvaluation, the same code as
 * `lethe eval`): Acc_e on the class's name, Acc_s on the other classes, Acc_g on its synonyms,
 * H_o, the per-class accuracies (cat, dog, horse, ...), and each objective's training rate in
 * steps/s. Every model gets the same concept set: the class as target with its synonyms as
 * corefs (--corefs none drops them; then Acc_g measures generalization), the other classes as
 * retains, the erase request's default object templates; the evaluation uses world.json's
 * evaluation templates only, which no training prompt uses.
 *
 *   node bin/run-ts.mjs bench/fine-tune-effect.node.ts [--pack demo:concept-world] [--erase cat]
 *     [--seeds 1] [--steps 10] [--templates 2] [--objectives realera,esd-x,crce]
 *     [--train-steps 4 | realera=4,esd-x=4,crce=2] [--lr 2e-2 | realera=2e-2,esd-x=5e-3] [--rank 4] [--latent-steps 4]
 *     [--corefs-per-step 1] [--retains-per-step 1] [--train-seed 0] [--corefs synonyms|none] [--shared-rows keep|free]
 *     [--speed-packs none|PACK,PACK] [--speed-steps 2] [--speed-only] [--out FILE]
 *
 * The defaults are sized for SwiftShader, where one training step of the concept-world UNet at
 * 8x8 latents costs tens of CPU seconds per loss term: a handful of steps at a high learning rate
 * (Adam moves each factor by about lr per step), ESD/CRCE latents from a 4-step DDIM schedule, and
 * CRCE with one coref and one retain per step instead of the paper's M = 5, N = 3. On a GPU,
 * enlarge: --train-steps realera=200,esd-x=1000,crce=300 --lr 1e-4 --latent-steps 50
 * --corefs-per-step 5 --retains-per-step 3 --templates 7 --seeds 4 --steps 20.
 *
 * --speed-packs: after the evaluation, each of these packs trains --speed-steps steps per
 * objective (same settings, no evaluation) for a steps/s row per pack; "none" skips it.
 * --speed-only: only those rows (default packs: --pack and demo:tiny-sd15; out
 * bench/results/fine-tune-speed.json); `npm run bench` runs it as its `fine-tune` suite and this
 * whole bench as `--suites=fine-tune-effect`. Prints progress to stderr, the table to stdout,
 * and writes the JSON (default bench/results/fine-tune-effect.json) after every model.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { packSpecFromArg } from '../src/cli/pack-arg.ts';
import type { PackSummary, TrainSummary } from '../src/engine/api.ts';
import { createNodeEngine } from '../src/engine/node-engine.ts';
import type { ConceptSetInput } from '../src/erasure/concept-sets.ts';
import { trainingRecipe } from '../src/cli/commands/train.ts';
import { FINE_TUNE_OBJECTIVES, type FineTuneObjective } from '../src/erasure/fine-tune/fine-tune-options.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../src/evaluation/judges/concept-world-judge.ts';
import type { JudgeImage } from '../src/evaluation/judges/judge.ts';
import type { EvaluationMetrics } from '../src/evaluation/metrics.ts';
import { cifar10Preset, parseConceptWorld, selectClasses } from '../src/evaluation/presets.ts';
import { planPrompts, seedList, type EvaluationProtocol } from '../src/evaluation/protocol.ts';
import type { EditReference } from '../src/evaluation/report.ts';
import { runEvaluation, type ImageSource } from '../src/evaluation/runner.ts';
import { formatAccuracy } from '../src/evaluation/summary-table.ts';
import { NodeOnnxRunner } from '../src/pipeline/onnx/node-runner.ts';
import { isSharedRowsMode, SHARED_ROWS_MODES } from '../src/erasure/shared-rows.ts';
import { isLearningRate, isStepCount, parsePerObjective } from './per-objective.ts';

const { values } = parseArgs({
  options: {
    pack: { type: 'string' },
    world: { type: 'string' },
    judge: { type: 'string' },
    erase: { type: 'string' },
    seeds: { type: 'string' },
    steps: { type: 'string' },
    templates: { type: 'string' },
    objectives: { type: 'string' },
    'train-steps': { type: 'string' },
    lr: { type: 'string' },
    rank: { type: 'string' },
    'latent-steps': { type: 'string' },
    'train-seed': { type: 'string' },
    corefs: { type: 'string' },
    'speed-packs': { type: 'string' },
    'speed-steps': { type: 'string' },
    'speed-only': { type: 'boolean' },
    'corefs-per-step': { type: 'string' },
    'retains-per-step': { type: 'string' },
    'shared-rows': { type: 'string' },
    out: { type: 'string' },
  },
});
const packArg = values.pack ?? 'demo:concept-world';
const worldPath = values.world ?? 'public/concept-world/world.json';
const judgePath = values.judge ?? 'public/concept-world/judge.onnx';
const outPath = values.out ?? (values['speed-only'] ? 'bench/results/fine-tune-speed.json' : 'bench/results/fine-tune-effect.json');
const erased = values.erase ?? 'cat';
const seeds = seedList(Number(values.seeds ?? 1));
const sampleSteps = Number(values.steps ?? 10);
const objectives = (values.objectives ?? FINE_TUNE_OBJECTIVES.join(',')).split(',').filter(Boolean) as FineTuneObjective[];
for (const o of objectives) if (!FINE_TUNE_OBJECTIVES.includes(o)) throw new Error(`--objectives: ${o} is not one of ${FINE_TUNE_OBJECTIVES.join(', ')}`);
const DEFAULT_TRAIN_STEPS: Record<FineTuneObjective, number> = { realera: 4, 'esd-x': 4, crce: 2 };
const trainSteps = parsePerObjective(values['train-steps'], '--train-steps', DEFAULT_TRAIN_STEPS, isStepCount);
const learningRates = parsePerObjective(values.lr, '--lr', { realera: 2e-2, 'esd-x': 2e-2, crce: 2e-2 }, isLearningRate);
const describeRates = () => (new Set(Object.values(learningRates)).size === 1 ? `${learningRates.realera}` : objectives.map((o) => `${o} ${learningRates[o]}`).join(', '));
const rank = Number(values.rank ?? 4);
const latentSteps = Number(values['latent-steps'] ?? 4);
const trainSeed = Number(values['train-seed'] ?? 0);
const corefMode = values.corefs ?? 'synonyms';
if (corefMode !== 'synonyms' && corefMode !== 'none') throw new Error('--corefs: synonyms or none');
const speedOnly = values['speed-only'] ?? false;
const corefsPerStep = Number(values['corefs-per-step'] ?? 1);
const retainsPerStep = Number(values['retains-per-step'] ?? 1);
const sharedRows = values['shared-rows'] ?? 'keep';
if (!isSharedRowsMode(sharedRows)) throw new Error(`--shared-rows: expected one of ${SHARED_ROWS_MODES.join(', ')}, got ${JSON.stringify(sharedRows)}`);
const speedPacks = (values['speed-packs'] ?? (speedOnly ? `${packArg},demo:tiny-sd15` : 'none')).split(',').filter((p) => p !== '' && p !== 'none');
const speedSteps = Number(values['speed-steps'] ?? 2);

const preset = cifar10Preset(parseConceptWorld(JSON.parse(readFileSync(worldPath, 'utf8')), basename(worldPath)));
const classes = preset.classes;
const [target] = selectClasses(classes, [erased]);
const templates = preset.templates.slice(0, Number(values.templates ?? 2));
const labelsPath = `${dirname(judgePath)}/judge.json`;
const labels = parseConceptWorldLabels(JSON.parse(readFileSync(labelsPath, 'utf8')), basename(labelsPath));
const sampling = { steps: sampleSteps, guidance: 7.5, scheduler: 'ddim' as const, negativePrompt: '' };
const protocol: EvaluationProtocol = { classes, erased: [erased], prompts: planPrompts(classes, [erased], templates), seeds, sampling };
const concepts: ConceptSetInput = {
  kind: 'object',
  targets: [{ concept: erased, corefs: corefMode === 'synonyms' ? target.synonyms.map((s) => ({ concept: s, weight: 1 })) : [] }],
  retains: classes.filter((c) => c.name !== erased).map((c) => ({ concept: c.name, weight: 1 })),
};

const started = performance.now();
const cpuMinutes = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 60e6;
};
const engine = await createNodeEngine();
const judge = speedOnly
  ? null
  : await createConceptWorldJudge(new NodeOnnxRunner(), new Uint8Array(readFileSync(judgePath)), labels, { file: basename(judgePath) });
let pack: PackSummary = await engine.loadPack(packSpecFromArg(packArg));
const sampleSize = () => engine.loadedModel?.pack.manifest.dims.sampleSize ?? 8;

let generated = 0;
const source: ImageSource = {
  async generate({ prompt, seed, variant }, signal) {
    signal.throwIfAborted();
    const image = await engine.generate({
      jobId: `fine-tune-effect-${generated}`,
      prompt,
      seed,
      steps: sampling.steps,
      guidance: sampling.guidance,
      scheduler: sampling.scheduler,
      variant,
    });
    generated++;
    return { image: { width: image.width, height: image.height, rgba: image.rgba } satisfies JudgeImage, editId: image.editId };
  },
};

const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const imagesPerRun = protocol.prompts.length * seeds.length;

/** Training time: every step (the first compiles the kernels and makes RealEra's anchor image), and the steps after the first. */
interface TrainingFigures {
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  /** Steps 2..N per second (null with one step). */
  laterStepsPerSecond: number | null;
  /** CPU time of the whole train() call (all threads: SwiftShader runs on the CPU), per step. */
  cpuSecondsPerStep: number;
  firstLoss: number;
  lastLoss: number;
  meanLastTenthLoss: number;
}

interface Row {
  label: string;
  objective: FineTuneObjective | null;
  metrics: EvaluationMetrics;
  editId: string | null;
  /** Canonical recipe of the edit (with its fineTune section for a trained one). */
  recipe: string | null;
  training: TrainingFigures | null;
  evaluationSeconds: number;
}
const rows: Row[] = [];
const evaluationPack = { id: pack.id, description: pack.description };
const speed: ({ pack: string; packId: string; latentSize: number; objective: FineTuneObjective } & TrainingFigures)[] = [];

async function evaluate(label: string, variant: 'original' | 'edited', edit: EditReference, extra: Pick<Row, 'objective' | 'training'>): Promise<void> {
  const t0 = performance.now();
  const report = await runEvaluation({
    protocol,
    runs: [{ label, variant, edit }],
    judge: judge!,
    source,
    pack: { id: pack.id, description: pack.description },
    onProgress: (p) => {
      if (p.done > 0 && p.done % 25 === 0) log(`${label}: ${p.done}/${p.total} images, ETA ${((p.etaMs ?? 0) / 1000).toFixed(0)} s`);
    },
  });
  const metrics = report.runs[0].metrics;
  const row: Row = {
    label,
    metrics,
    editId: edit.kind === 'original' ? null : edit.id,
    recipe: edit.kind === 'recipe' ? edit.recipe : null,
    evaluationSeconds: (performance.now() - t0) / 1000,
    ...extra,
  };
  rows.push(row);
  writeReport();
  const perClass = metrics.perClass
    .filter((c) => ['cat', 'dog', 'horse', erased].includes(c.className))
    .map((c) => `${c.className} ${formatAccuracy(c.accuracy.probability)}`);
  log(
    `${label}: Acc_e ${formatAccuracy(metrics.efficacy.probability)} Acc_s ${formatAccuracy(metrics.specificity.probability)} Acc_g ${formatAccuracy(metrics.generality.probability)} H_o ${formatAccuracy(metrics.harmonic.probability)}; ${perClass.join(', ')} (${row.evaluationSeconds.toFixed(0)} s)`,
  );
}

/** A training recipe: the closed-form edit's recipe (concept set, templates) plus the run's fineTune section, as `lethe train` makes it. */
function fineTuneRecipe(closedFormRecipe: string, objective: FineTuneObjective, steps: number): string {
  const overrides = { steps, learningRate: learningRates[objective], rank, alpha: rank, latentSteps, seed: trainSeed, corefsPerStep, retainsPerStep };
  return trainingRecipe(closedFormRecipe, 'closed-form edit', { objective, overrides }, sampleSize());
}

let jobs = 0;
/** Trains a recipe (the result becomes the current edit), logging every step. */
async function train(recipe: string, name: string): Promise<{ summary: TrainSummary; figures: TrainingFigures }> {
  let firstStepAt = 0;
  let lastStepAt = 0;
  const cpuBefore = cpuMinutes();
  const summary = await engine.train({ jobId: `fine-tune-effect-train-${jobs++}`, recipe, checkpointEvery: 0 }, (p) => {
    lastStepAt = performance.now();
    if (p.step === 1) firstStepAt = lastStepAt;
    const parts = Object.entries(p.groups).map(([group, value]) => `${group} ${value.toExponential(2)}`);
    log(`${name}: step ${p.step}/${p.steps}, loss ${p.loss.toExponential(3)} (${parts.join(', ')})`);
  });
  const losses = summary.losses.map((l) => l.loss);
  const tail = losses.slice(-Math.max(1, Math.ceil(losses.length / 10)));
  const figures: TrainingFigures = {
    steps: summary.steps,
    seconds: summary.seconds,
    stepsPerSecond: summary.steps / summary.seconds,
    laterStepsPerSecond: summary.steps > 1 ? (summary.steps - 1) / ((lastStepAt - firstStepAt) / 1000) : null,
    cpuSecondsPerStep: ((cpuMinutes() - cpuBefore) * 60) / summary.steps,
    firstLoss: losses[0] ?? NaN,
    lastLoss: losses.at(-1) ?? NaN,
    meanLastTenthLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
  };
  log(
    `${name}: ${figures.steps} steps in ${figures.seconds.toFixed(0)} s (${figures.stepsPerSecond.toFixed(4)} steps/s; after the first step ${figures.laterStepsPerSecond?.toFixed(4) ?? '-'}; ${figures.cpuSecondsPerStep.toFixed(1)} CPU s per step), loss ${figures.firstLoss.toExponential(3)} -> ${figures.meanLastTenthLoss.toExponential(3)} (mean of the last tenth)`,
  );
  return { summary, figures };
}

/** The table (returned) and the JSON (written to --out): after every model, so a run cut short keeps what it measured. */
function writeReport(): string {
  const command = ['node bin/run-ts.mjs bench/fine-tune-effect.node.ts', ...process.argv.slice(2)].join(' ');
  const adapter = engine.adapter;
  const machine = `${availableParallelism()} CPU cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, WebGPU adapter ${adapter ? `${adapter.vendor} / ${adapter.architecture} / ${adapter.description}${adapter.software ? ' (software)' : ''}` : 'unknown'}; generation: onnxruntime-node on the CPU`;
  const cell = (a: { probability: number; top1: number }) => `${formatAccuracy(a.probability)} (${formatAccuracy(a.top1)})`;
  const shown = [erased, ...['dog', 'horse'].filter((c) => c !== erased && classes.some((k) => k.name === c))];
  const perClass = (m: EvaluationMetrics, name: string) => {
    const c = m.perClass.find((p) => p.className === name);
    return c ? formatAccuracy(c.accuracy.probability) : '–';
  };
  const rate = (f: TrainingFigures) => `${f.stepsPerSecond.toFixed(4)} (${f.laterStepsPerSecond?.toFixed(4) ?? '–'}) | ${f.cpuSecondsPerStep.toFixed(0)}`;
  const trainingLine = `Training: rank ${rank} LoRA on attn2 to_k/to_v, Adam lr ${describeRates()}, batch 1, seed ${trainSeed}, training latents from ${latentSteps} DDIM steps at guidance 3, ${retainsPerStep} retain(s) per step (CRCE; RealEra's even steps), CRCE ${corefsPerStep} coref(s) per step`;
  const table = [
    ...(rows.length
      ? [
          `Erasing "${erased}" on ${evaluationPack.description} (pack ${evaluationPack.id.slice(0, 12)}); concept set: target "${erased}"${corefMode === 'synonyms' ? ` with corefs ${target.synonyms.join(', ')}` : ' (no corefs)'}, retains the other ${classes.length - 1} classes.`,
          `Evaluation: ${templates.length} evaluation templates x ${seeds.length} seeds, ${classes.length} class names + ${target.synonyms.length} synonyms of "${erased}" = ${imagesPerRun} images per model, DDIM ${sampleSteps} steps, guidance 7.5; concept-world judge; mean probability (top-1).`,
          `${trainingLine}; steps per objective: ${objectives.map((o) => `${o} ${trainSteps[o]}`).join(', ')}. steps/s: all steps (after the first); CPU s/step: CPU time of all the process's threads per step, which does not depend on what else runs on the machine.`,
          '',
          `| model | train steps | steps/s | CPU s/step | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ | ${shown.map((c) => `${c}`).join(' | ')} |`,
          `| --- | --- | --- | --- | --- | --- | --- | --- | ${shown.map(() => '---').join(' | ')} |`,
          ...rows.map(
            (r) =>
              `| ${r.label} | ${r.training ? r.training.steps : '–'} | ${r.training ? rate(r.training) : '– | –'} | ${cell(r.metrics.efficacy)} | ${cell(r.metrics.specificity)} | ${cell(r.metrics.generality)} | ${formatAccuracy(r.metrics.harmonic.probability)} (${formatAccuracy(r.metrics.harmonic.top1)}) | ${shown.map((c) => perClass(r.metrics, c)).join(' | ')} |`,
          ),
          '',
          `(${shown.join(', ')}: the judge's mean probability of the class on its own name prompts.)`,
        ]
      : []),
    ...(speed.length
      ? [
          ...(rows.length ? [''] : []),
          `Training rate, ${speedSteps} steps per objective (${trainingLine}); steps/s over all steps (after the first), CPU seconds per step:`,
          '',
          '| pack | latent | objective | steps/s | CPU s/step |',
          '| --- | --- | --- | --- | --- |',
          ...speed.map((s) => `| ${s.pack} | ${s.latentSize}x${s.latentSize} | ${s.objective} | ${rate(s)} |`),
        ]
      : []),
    '',
    `${generated} images and ${rows.filter((r) => r.training).length + speed.length} training runs in ${((performance.now() - started) / 60000).toFixed(1)} min wall, ${cpuMinutes().toFixed(1)} min of CPU time (all threads of this process), load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}, on ${machine}.`,
    `Command: ${command}`,
  ].join('\n');
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(
    outPath,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        command,
        machine,
        pack: evaluationPack,
        erased,
        concepts,
        protocol: { classes: classes.length, templates, seeds, sampling, prompts: protocol.prompts.length },
        training: { learningRates, rank, alpha: rank, latentSteps, seed: trainSeed, steps: trainSteps, corefsPerStep, retainsPerStep },
        rows,
        speed,
        images: generated,
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: cpuMinutes() * 60,
        loadAverage: loadavg(),
        table,
      },
      (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
      2,
    )}\n`,
  );
  return table;
}

const labelOf: Record<FineTuneObjective, string> = { realera: 'UCE + RealEra alignment', 'esd-x': 'ESD-x', crce: 'CRCE' };
if (!speedOnly) {
  log(
    `${pack.id.slice(0, 12)} (${pack.description}); erase "${erased}"; ${protocol.prompts.length} prompts x ${seeds.length} seeds = ${imagesPerRun} images per model, ${objectives.length + 2} models`,
  );
  await evaluate('original', 'original', { kind: 'original' }, { objective: null, training: null });
  const closedForm = await engine.erase({ concepts, method: 'uce', tokens: 'subject', sharedRows });
  await evaluate('closed form (UCE)', 'edited', { kind: 'recipe', id: closedForm.id, recipe: closedForm.recipe }, { objective: null, training: null });
  for (const objective of objectives) {
    const { summary, figures } = await train(fineTuneRecipe(closedForm.recipe, objective, trainSteps[objective]), objective);
    await evaluate(labelOf[objective], 'edited', { kind: 'recipe', id: summary.editId, recipe: summary.recipe }, { objective, training: figures });
  }
  await engine.clearEdit();
}
// Training rate only, per pack: a few steps of each objective, same settings.
for (const speedPack of speedPacks) {
  pack = await engine.loadPack(packSpecFromArg(speedPack));
  const edit = await engine.erase({ concepts, method: 'uce', tokens: 'subject', sharedRows });
  for (const objective of objectives) {
    const { figures } = await train(fineTuneRecipe(edit.recipe, objective, speedSteps), `${speedPack} ${objective}`);
    speed.push({ pack: speedPack, packId: pack.id, latentSize: sampleSize(), objective, ...figures });
    writeReport();
  }
  await engine.clearEdit();
}

console.log(writeReport());
log(`written: ${outPath}`);
await judge?.release();
await engine.dispose();
