/**
 * `lethe train`: fine-tunes a LoRA that erases the recipe's concepts (RealEra noise alignment on
 * top of the closed-form edit, ESD-x, or CRCE) with the same Engine the studio uses, and writes
 * it through the LoRA exporter. Everything that decides the run goes into the recipe's fineTune
 * section (flags override the recipe's own or the objective's defaults), which the file carries
 * in its metadata; --checkpoint DIR saves the state every K steps and --resume continues from it
 * with the same result as an uninterrupted run.
 */
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError, type CliCommand } from '../command.ts';
import { choiceFlag, integerFlag, numberFlag, parseFlags, requireFlag } from '../flags.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { readInputText } from '../input-file.ts';
import { checkOutputFile, writeOutputFile } from '../output-file.ts';
import type { LoraExportOptions, LoraExportResult, PackLoadProgress, PackSourceSpec, PackSummary, TrainProgressEvent, TrainRequest, TrainSummary } from '../../engine/api.ts';
import { CheckpointStorageError, type CheckpointStore } from '../../erasure/fine-tune/checkpoint-store.ts';
import { FINE_TUNE_OBJECTIVES, fineTuneDefaults, parseFineTuneOptions, type FineTuneObjective, type FineTuneOptions } from '../../erasure/fine-tune/fine-tune-options.ts';
import { parseRecipe, serializeRecipe } from '../../erasure/recipe.ts';
import { InputError } from '../../util/errors.ts';

export const TRAIN_USAGE =
  'lethe train --pack PACK --recipe recipe.json --objective realera|esd-x|crce --steps N --out lora.safetensors ' +
  '[--format kohya|diffusers] [--dtype fp32|fp16] [--checkpoint DIR] [--checkpoint-every K] [--resume] [--lr LR] [--rank R] [--alpha A] [--seed S] ' +
  '[--batch B] [--eta E] [--latent-size S] [--latent-steps N] [--recipe-out run.json]';

/** What `lethe train` needs of the engine (the Node engine, or a stand-in in tests). */
export interface TrainEngine {
  loadPack(spec: PackSourceSpec, onProgress?: (progress: PackLoadProgress) => void): Promise<PackSummary>;
  train(request: TrainRequest, onProgress?: (progress: TrainProgressEvent) => void): Promise<TrainSummary>;
  exportLora(options: LoraExportOptions): Promise<LoraExportResult>;
  useCheckpointStore(store: CheckpointStore | null): void;
  /** The loaded pack's latent size (the default --latent-size). */
  readonly loadedModel: { readonly pack: { readonly manifest: { readonly dims: { readonly sampleSize: number } } } } | null;
  dispose(): unknown;
}

export interface TrainArgs {
  pack: string;
  recipe: string;
  objective: FineTuneObjective;
  out: string;
  recipeOut?: string;
  export: LoraExportOptions;
  checkpoint?: string;
  checkpointEvery: number;
  resume: boolean;
  /** fineTune fields given as flags (the rest come from the recipe or the defaults). */
  overrides: Partial<FineTuneOptions>;
}

export function parseTrainArgs(args: string[]): TrainArgs {
  const { values } = parseFlags(args, {
    pack: { type: 'string' },
    recipe: { type: 'string' },
    objective: { type: 'string' },
    steps: { type: 'string' },
    out: { type: 'string' },
    'recipe-out': { type: 'string' },
    format: { type: 'string' },
    dtype: { type: 'string' },
    checkpoint: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'boolean' },
    lr: { type: 'string' },
    rank: { type: 'string' },
    alpha: { type: 'string' },
    seed: { type: 'string' },
    batch: { type: 'string' },
    eta: { type: 'string' },
    'latent-size': { type: 'string' },
    'latent-steps': { type: 'string' },
  });
  const objective = values.objective;
  if (objective === undefined) throw new UsageError(`--objective is required (${FINE_TUNE_OBJECTIVES.join(', ')})`);
  const overrides: Partial<FineTuneOptions> = {};
  const set = <K extends keyof FineTuneOptions>(key: K, value: FineTuneOptions[K] | undefined) => {
    if (value !== undefined) overrides[key] = value;
  };
  const int = (flag: string, value: string | undefined, min: number, max: number) => (value === undefined ? undefined : integerFlag(value, flag, 0, min, max));
  const num = (flag: string, value: string | undefined, min: number, max: number) => (value === undefined ? undefined : numberFlag(value, flag, 0, min, max));
  set('steps', int('--steps', values.steps, 1, 1_000_000));
  set('learningRate', num('--lr', values.lr, Number.MIN_VALUE, 1));
  set('rank', int('--rank', values.rank, 1, 1024));
  set('alpha', num('--alpha', values.alpha, Number.MIN_VALUE, 1e6));
  set('seed', int('--seed', values.seed, 0, 0xffffffff));
  set('batch', int('--batch', values.batch, 1, 64));
  set('eta', num('--eta', values.eta, 0, 100));
  set('latentSize', int('--latent-size', values['latent-size'], 1, 512));
  set('latentSteps', int('--latent-steps', values['latent-steps'], 1, 1000));
  if (values.resume && values.checkpoint === undefined) throw new UsageError('--resume needs --checkpoint DIR (the folder the run saved to)');
  return {
    pack: requireFlag(values.pack, '--pack'),
    recipe: requireFlag(values.recipe, '--recipe'),
    objective: choiceFlag(objective, '--objective', FINE_TUNE_OBJECTIVES, 'esd-x'),
    out: requireFlag(values.out, '--out'),
    ...(values['recipe-out'] !== undefined ? { recipeOut: values['recipe-out'] } : {}),
    export: { convention: choiceFlag(values.format, '--format', ['kohya', 'diffusers'] as const, 'kohya'), dtype: choiceFlag(values.dtype, '--dtype', ['fp32', 'fp16'] as const, 'fp32'), rank: 'exact' },
    ...(values.checkpoint !== undefined ? { checkpoint: values.checkpoint } : {}),
    checkpointEvery: integerFlag(values['checkpoint-every'], '--checkpoint-every', 10, 1, 1_000_000),
    resume: values.resume ?? false,
    overrides,
  };
}

/** The recipe's fineTune section for this run: the recipe's own (same objective) or the objective's defaults, then the flags. */
export function trainingRecipe(recipeJson: string, file: string, args: Pick<TrainArgs, 'objective' | 'overrides'>, latentSize: number): string {
  const recipe = parseRecipe(recipeJson, file);
  const base = recipe.fineTune?.objective === args.objective ? recipe.fineTune : fineTuneDefaults(args.objective, latentSize);
  const fineTune = parseFineTuneOptions({ ...base, ...args.overrides }, (field, detail) => {
    throw new InputError(`lethe train: fineTune.${field}: ${detail}`);
  });
  return serializeRecipe({ ...recipe, fineTune });
}

/** Checkpoints in a folder: each file written to a temporary name and renamed over the old one. */
export class FolderCheckpointStore implements CheckpointStore {
  readonly description: string;

  constructor(private readonly folder: string) {
    this.description = `folder ${folder}`;
    mkdirSync(folder, { recursive: true });
  }

  async read(name: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(join(this.folder, name)));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const target = join(this.folder, name);
    const temporary = `${target}.partial`;
    try {
      await writeFile(temporary, bytes);
      renameSync(temporary, target);
    } catch (error) {
      rmSync(temporary, { force: true });
      const code = (error as { code?: string }).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new CheckpointStorageError(this.description, bytes.length, 'the disk is full');
      throw new CheckpointStorageError(this.description, bytes.length, (error as Error).message);
    }
  }

  async remove(name: string): Promise<void> {
    rmSync(join(this.folder, name), { force: true });
  }
}

export interface TrainCommandIo {
  createEngine(): Promise<TrainEngine>;
  log(line: string): void;
  progress(line: string): void;
}

export async function runTrain(args: string[], io: TrainCommandIo): Promise<number> {
  const parsed = parseTrainArgs(args);
  checkPackArg(parsed.pack);
  checkOutputFile(parsed.out, '--out');
  if (parsed.recipeOut !== undefined) checkOutputFile(parsed.recipeOut, '--recipe-out');
  if (parsed.checkpoint !== undefined && statSync(resolve(parsed.checkpoint), { throwIfNoEntry: false })?.isFile()) throw new InputError(`--checkpoint ${parsed.checkpoint} is a file; give a folder`);
  const recipeJson = readInputText(parsed.recipe, '--recipe');
  const engine = await io.createEngine();
  try {
    let phase = '';
    const pack = await engine.loadPack(packSpecFromArg(parsed.pack), (p) => {
      if (p.phase !== phase) io.progress(`${(phase = p.phase)}${p.file ? ` ${p.file}` : ''}`);
    });
    io.progress(`pack ${pack.id.slice(0, 12)} (${pack.family}, ${pack.crossAttentionLayers} cross-attention layers)`);
    const recipe = trainingRecipe(recipeJson, parsed.recipe, parsed, engine.loadedModel?.pack.manifest.dims.sampleSize ?? 64);
    if (parsed.recipeOut !== undefined) await writeOutputFile(parsed.recipeOut, recipe, '--recipe-out');
    engine.useCheckpointStore(parsed.checkpoint !== undefined ? new FolderCheckpointStore(resolve(parsed.checkpoint)) : null);
    const summary = await engine.train({ jobId: 'cli', recipe, checkpointEvery: parsed.checkpoint !== undefined ? parsed.checkpointEvery : 0, resume: parsed.resume }, (p) => {
      const parts = Object.entries(p.groups).map(([group, value]) => `${group} ${value.toExponential(3)}`);
      io.progress(`step ${p.step}/${p.steps}: loss ${p.loss.toExponential(4)}${parts.length > 1 ? ` (${parts.join(', ')})` : ''}, ${p.stepsPerSecond.toFixed(2)} steps/s, ETA ${p.etaSeconds.toFixed(0)} s${p.checkpointed ? ', checkpoint saved' : ''}`);
    });
    const result = await engine.exportLora(parsed.export);
    await writeOutputFile(parsed.out, result.bytes, '--out');
    io.log(
      [
        `trained ${summary.steps} steps${summary.resumedAt > 0 ? ` (resumed at step ${summary.resumedAt})` : ''} in ${summary.seconds.toFixed(1)} s; last loss ${summary.losses.at(-1)?.loss.toExponential(4) ?? 'n/a'}`,
        `LoRA rank ${result.rank} (${result.layers.length} projections), ${parsed.export.convention} ${parsed.export.dtype}, ${result.bytes.length} bytes -> ${parsed.out}`,
      ].join('\n'),
    );
    return 0;
  } finally {
    await engine.dispose();
  }
}

export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'fine-tune an erasure LoRA (RealEra noise alignment, ESD-x, CRCE) with checkpoints; write it as kohya/diffusers safetensors',
  usage: TRAIN_USAGE,
  run(args) {
    return runTrain(args, {
      createEngine: async () => (await import('../../engine/node-engine.ts')).createNodeEngine(),
      log: (line) => console.log(line),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
  },
};
