/**
 * `lethe eval`: the evaluation protocol from the command line, with the same Engine and the same
 * evaluation layer as the studio, so the same inputs give the same numbers. Writes the report
 * (JSON, replayable) and optionally the table as CSV; prints the table.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliCommand } from '../command.ts';
import { UsageError } from '../command.ts';
import { choiceFlag, integerFlag, numberFlag, parseFlags, requireFlag } from '../flags.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { readInputBytes, readInputText } from '../input-file.ts';
import { checkOutputFile, writeOutputFile } from '../output-file.ts';
import type { Engine } from '../../engine/engine.ts';
import type { EvaluationProgressEvent, EvaluationRequest, EvaluationRunRequest } from '../../evaluation/evaluate.ts';
import { parseConceptWorldLabels } from '../../evaluation/judges/concept-world-judge.ts';
import { CLIP_DEFAULT_MODEL, type JudgeRequest } from '../../evaluation/judges/create-judge.ts';
import { cifar10Preset, classesOfPrompts, parseClassList, parseConceptWorld, parsePromptFile, selectClasses, PRESET_IDS } from '../../evaluation/presets.ts';
import { checkClasses, checkErased, classesForConcepts, planPrompts, seedList, type EvaluationClass, type EvaluationProtocol, type PlannedPrompt } from '../../evaluation/protocol.ts';
import { metricsDifference, parseReport, reportCsv, serializeReport, type EvaluationReport } from '../../evaluation/report.ts';
import { formatSummaryTable } from '../../evaluation/summary-table.ts';
import { parseRecipe } from '../../erasure/recipe.ts';
import { InputError } from '../../util/errors.ts';

export const EVAL_USAGE =
  'lethe eval --pack P [--recipe R | --lora F [--lora-scale S]] [--preset cifar10] [--classes cat,dog] [--class-list FILE] [--prompts FILE] ' +
  '[--erased cat] [--seeds K] [--first-seed N] [--steps N] [--guidance G] [--scheduler ddim|euler_a|dpmpp_2m] [--templates N] ' +
  '[--judge concept-world[:judge.onnx] | clip:HUB_ID] [--clip-score HUB_ID] --out report.json [--csv table.csv] | --replay report.json [--lora F] [--out report.json]';

/** The repository's concept world (world.json, judge.onnx, judge.json), next to the sources. */
export const CONCEPT_WORLD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../public/concept-world');

interface EvalArgs {
  pack: string;
  recipe?: string;
  lora?: string;
  loraScale: number;
  out?: string;
  csv?: string;
  replay?: string;
  request?: Omit<EvaluationRequest, 'runs' | 'jobId'>;
  erased?: string[];
}

export async function runEval(args: string[], createEngine: () => Promise<Engine>, log: (line: string) => void, progress: (line: string) => void): Promise<number> {
  const { values } = parseFlags(args, {
    pack: { type: 'string' },
    recipe: { type: 'string' },
    lora: { type: 'string' },
    'lora-scale': { type: 'string' },
    preset: { type: 'string' },
    world: { type: 'string' },
    classes: { type: 'string' },
    'class-list': { type: 'string' },
    prompts: { type: 'string' },
    erased: { type: 'string' },
    seeds: { type: 'string' },
    'first-seed': { type: 'string' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    scheduler: { type: 'string' },
    templates: { type: 'string' },
    negative: { type: 'string' },
    judge: { type: 'string' },
    'clip-score': { type: 'string' },
    out: { type: 'string' },
    csv: { type: 'string' },
    replay: { type: 'string' },
  });
  if (values.recipe && values.lora) throw new UsageError('give --recipe or --lora, not both');
  const pack = requireFlag(values.pack, '--pack');
  if (!values.replay) requireFlag(values.out, '--out');
  checkPackArg(pack);
  for (const [path, flag] of [[values.out, '--out'], [values.csv, '--csv']] as const) if (path) checkOutputFile(path, flag);
  const loraScale = numberFlag(values['lora-scale'], '--lora-scale', 1, -10, 10);

  // Everything that can be checked without the GPU is checked first: a typo fails in milliseconds.
  let stored: EvaluationReport | null = null;
  let planned: Omit<EvaluationRequest, 'jobId'> | null = null;
  let recipeText: string | undefined;
  if (values.replay) {
    stored = parseReport(readInputText(values.replay, '--replay'), values.replay);
  } else {
    const protocolClasses = readClasses(values);
    recipeText = values.recipe ? readInputText(values.recipe, '--recipe') : undefined;
    const editConcepts = recipeText ? parseRecipe(recipeText, values.recipe!).concepts.targets.map((t) => t.concept) : [];
    const erased = values.erased ? values.erased.split(',').map((s) => s.trim()).filter((s) => s) : classesForConcepts(protocolClasses.classes, editConcepts);
    const prompts: PlannedPrompt[] = values.prompts ? parsePromptFile(readInputText(values.prompts, '--prompts'), values.prompts) : [];
    const classes = protocolClasses.fromPrompts ? classesOfPrompts(prompts) : protocolClasses.classes;
    if (erased.length === 0) throw new UsageError(`name the erased class with --erased (one of ${classes.map((c) => c.name).join(', ')})${editConcepts.length ? `; the recipe erases ${editConcepts.join(', ')}, which is none of them` : ''}`);
    const protocol: EvaluationProtocol = {
      classes,
      erased,
      prompts: values.prompts ? prompts : planPrompts(classes, erased, protocolClasses.templates),
      seeds: seedList(integerFlag(values.seeds, '--seeds', 4, 1, 1000), integerFlag(values['first-seed'], '--first-seed', 0, 0, 2 ** 32 - 1)),
      sampling: {
        steps: integerFlag(values.steps, '--steps', 20, 1, 1000),
        guidance: numberFlag(values.guidance, '--guidance', 7.5, 1, 50),
        scheduler: choiceFlag(values.scheduler, '--scheduler', ['ddim', 'euler_a', 'dpmpp_2m'] as const, 'ddim'),
        negativePrompt: values.negative ?? '',
      },
    };
    checkClasses(protocol.classes);
    checkErased(protocol.classes, protocol.erased);
    const runs: EvaluationRunRequest[] = [{ kind: 'original' }, ...(values.recipe || values.lora ? [{ kind: 'edited' as const }] : [])];
    planned = { protocol, judge: readJudge(values.judge, values.world), runs, ...(values['clip-score'] ? { clipScore: { model: values['clip-score'], ...hubEndpoint() } } : {}) };
  }

  const engine = await createEngine();
  try {
    const summary = await engine.loadPack(packSpecFromArg(pack));
    progress(`pack ${summary.id.slice(0, 12)}: ${summary.description}`);
    let request: Omit<EvaluationRequest, 'jobId'>;
    if (stored) {
      if (stored.pack.id !== summary.id) throw new InputError(`--replay ${values.replay}: the report was made with pack ${stored.pack.id.slice(0, 12)} (${stored.pack.description}), --pack is ${summary.id.slice(0, 12)}`);
      request = await replayRequest(stored, engine, { lora: values.lora, judge: values.judge, world: values.world }, values.replay!);
    } else {
      await applyEdit(engine, recipeText, values.recipe, values.lora, loraScale, progress);
      request = planned!;
    }
    const images = request.runs.length * request.protocol.prompts.length * request.protocol.seeds.length;
    progress(`evaluating ${request.protocol.prompts.length} prompts x ${request.protocol.seeds.length} seeds x ${request.runs.length} runs = ${images} images, ${request.protocol.sampling.steps} steps; erased: ${request.protocol.erased.join(', ')}`);
    const result = await engine.evaluate({ ...request, jobId: 'cli-eval' }, (p) => progress(progressLine(p)));
    const report = result.report;
    log(formatSummaryTable(report));
    if (values.out) {
      await writeOutputFile(values.out, serializeReport(report), '--out');
      log(`report -> ${values.out}`);
    }
    if (values.csv) {
      await writeOutputFile(values.csv, reportCsv(report), '--csv');
      log(`table -> ${values.csv}`);
    }
    if (stored) {
      const differences = report.runs.map((run, i) => metricsDifference(run.metrics, stored!.runs[i].metrics, 1e-6)).map((d, i) => (d ? `run "${report.runs[i].label}": ${d}` : null)).filter((d) => d !== null);
      if (differences.length > 0) throw new InputError(`replay of ${values.replay}: the numbers differ (${differences.join('; ')})`);
      log(`replay: every number of ${values.replay} reproduced (${report.runs.length} runs)`);
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

/** Classes and templates from --preset / --classes / --class-list (a prompt file alone implies its own classes). */
function readClasses(values: { preset?: string; world?: string; classes?: string; 'class-list'?: string; prompts?: string; templates?: string }): { classes: EvaluationClass[]; templates: string[]; fromPrompts: boolean } {
  if (values['class-list']) {
    const classes = parseClassList(readInputText(values['class-list'], '--class-list'), values['class-list']);
    return { classes, templates: templatesOf(cifar10Templates(values.world), values.templates), fromPrompts: false };
  }
  if (values.prompts && !values.preset) return { classes: [], templates: [], fromPrompts: true };
  choiceFlag(values.preset, '--preset', PRESET_IDS, 'cifar10');
  const preset = cifar10Preset(readWorld(values.world));
  const classes = values.classes ? selectClasses(preset.classes, values.classes.split(',').map((s) => s.trim()).filter((s) => s)) : preset.classes;
  return { classes, templates: templatesOf(preset.templates, values.templates), fromPrompts: false };
}

function readWorld(world: string | undefined) {
  const path = world ?? join(CONCEPT_WORLD_DIR, 'world.json');
  return parseConceptWorld(JSON.parse(readInputText(path, '--world')), basename(path));
}

function cifar10Templates(world: string | undefined): string[] {
  return cifar10Preset(readWorld(world)).templates;
}

function templatesOf(templates: string[], limit: string | undefined): string[] {
  const count = integerFlag(limit, '--templates', templates.length, 1, templates.length);
  return templates.slice(0, count);
}

/** --judge concept-world[:path/to/judge.onnx] (labels from judge.json next to it, else world.json) or clip:HUB_ID. */
function readJudge(value: string | undefined, world: string | undefined): JudgeRequest {
  const spec = value ?? 'concept-world';
  if (spec === 'clip' || spec.startsWith('clip:')) return { kind: 'clip', model: spec.slice(5) || CLIP_DEFAULT_MODEL, ...hubEndpoint() };
  if (spec !== 'concept-world' && !spec.startsWith('concept-world:')) throw new UsageError(`--judge must be concept-world, concept-world:PATH or clip:HUB_ID, got "${spec}"`);
  const onnxPath = spec.slice('concept-world:'.length) || join(CONCEPT_WORLD_DIR, 'judge.onnx');
  const onnx = readInputBytes(onnxPath, '--judge');
  const labelsPath = join(dirname(onnxPath), 'judge.json');
  const labelsFile = existsSync(labelsPath) ? labelsPath : (world ?? join(CONCEPT_WORLD_DIR, 'world.json'));
  const labels = parseConceptWorldLabels(JSON.parse(readInputText(labelsFile, '--judge')), basename(labelsFile));
  return { kind: 'concept-world', onnx, labels, file: basename(onnxPath) };
}

function hubEndpoint(): { endpoint?: string } {
  return process.env.LETHE_HUB_ENDPOINT ? { endpoint: process.env.LETHE_HUB_ENDPOINT } : {};
}

/** Makes the recipe or LoRA the current edit. */
async function applyEdit(engine: Engine, recipeText: string | undefined, recipe: string | undefined, lora: string | undefined, scale: number, progress: (line: string) => void): Promise<void> {
  if (recipeText !== undefined) {
    const summary = await engine.applyRecipe(recipeText);
    progress(`edit ${summary.id.slice(0, 12)} from ${recipe}`);
  }
  if (lora) {
    const imported = await engine.importLora(readInputBytes(lora, '--lora'), basename(lora), scale);
    progress(`LoRA ${basename(lora)}: ${imported.applied.length} projections at strength ${scale}`);
  }
}

/** The stored report's protocol, judge and runs, with each run's edit made current again (or kept) as it was. */
async function replayRequest(report: EvaluationReport, engine: Engine, flags: { lora?: string; judge?: string; world?: string }, file: string): Promise<Omit<EvaluationRequest, 'jobId'>> {
  const descriptor = report.judge.descriptor;
  let judge: JudgeRequest;
  if (descriptor.kind === 'clip') judge = { kind: 'clip', model: descriptor.model, revision: descriptor.revision, template: descriptor.template, scale: descriptor.scale, ...hubEndpoint() };
  else {
    const request = readJudge(flags.judge, flags.world);
    if (request.kind !== 'concept-world') throw new UsageError(`--replay ${file}: the report was judged by the concept-world classifier; --judge must be concept-world[:PATH]`);
    const { sha256Hex } = await import('../../util/sha256.ts');
    const sha = await sha256Hex(request.onnx);
    if (sha !== descriptor.sha256) throw new InputError(`--replay ${file}: the report was judged by a classifier with sha256 ${descriptor.sha256.slice(0, 12)}, --judge ${request.file ?? 'judge.onnx'} is ${sha.slice(0, 12)}`);
    judge = { ...request, head: descriptor.head };
  }
  const runs: EvaluationRunRequest[] = [];
  for (const run of report.runs) {
    if (run.edit.kind === 'original') {
      runs.push({ kind: 'original', label: run.label });
      continue;
    }
    if (run.edit.kind === 'recipe') await engine.applyRecipe(run.edit.recipe);
    else {
      const lora = loraFileFor(run.edit.fileName, flags.lora, file);
      if (!lora) throw new UsageError(`--replay ${file}: run "${run.label}" used the LoRA ${run.edit.fileName}, which is not beside the report; give it with --lora`);
      const imported = await engine.importLora(readInputBytes(lora, '--lora'), basename(lora), run.edit.strength);
      if (imported.editId !== run.edit.id) throw new InputError(`--lora ${lora} is not the file run "${run.label}" used (edit ${imported.editId.slice(0, 12)}, the report has ${run.edit.id.slice(0, 12)})`);
    }
    // Every edit stays alive under its id, so the runs can name theirs.
    const id = run.edit.id;
    await engine.keepEdit(id);
    runs.push({ kind: 'edited', editId: id, label: run.label });
  }
  return { protocol: report.protocol, judge, runs, ...(report.clipScore ? { clipScore: { model: report.clipScore.model, ...hubEndpoint() } } : {}) };
}

/**
 * The LoRA file of a replayed run: --lora when it has the run's file name (or when nothing else
 * is there), else the file of that name beside the report (a report of several LoRA runs, such as
 * the eval-table bench's, keeps them there). A wrong file fails on its edit id.
 */
function loraFileFor(fileName: string, flag: string | undefined, reportFile: string): string | undefined {
  if (flag && basename(flag) === fileName) return flag;
  const beside = join(dirname(reportFile), basename(fileName));
  return existsSync(beside) ? beside : flag;
}

function progressLine(p: EvaluationProgressEvent): string {
  const eta = p.etaMs === null ? '' : `, ETA ${formatDuration(p.etaMs)}`;
  return `[${p.done}/${p.total}] ${p.run}: "${p.prompt}" seed ${p.seed} (${formatDuration(p.elapsedMs)}${eta})`;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'measure an erasure: Acc_e, Acc_s, Acc_g, H_o before/after with the same seeds; replay a report',
  usage: EVAL_USAGE,
  run(args) {
    return runEval(
      args,
      async () => (await import('../../engine/node-engine.ts')).createNodeEngine(),
      (line) => console.log(line),
      (line) => console.error(line),
    );
  },
};
