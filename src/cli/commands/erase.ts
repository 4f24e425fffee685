/**
 * `lethe erase`: loads a pack, computes a closed-form erasure with the same Engine the studio
 * uses, writes its recipe, and optionally the edited cross-attention weights and a dump of the
 * constraint vectors and M.
 */
import type { CliCommand } from '../command.ts';
import { ERASE_USAGE, parseEraseArgs } from './erase-args.ts';
import { editDumpFile, editedWeightsFile, type HostProjectionWeights } from './erase-files.ts';
import type { EditSummary, EraseRequest, PackLoadProgress, PackSourceSpec, PackSummary } from '../../engine/api.ts';
import type { ClosedFormProblem, EditOperator } from '../../erasure/closed-form.ts';
import type { ErasureRecipe } from '../../erasure/recipe.ts';
import type { CrossAttentionLayer } from '../../model/manifest.ts';
import { InputError } from '../../util/errors.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { readInputText } from '../input-file.ts';
import { checkOutputFile, writeOutputFile } from '../output-file.ts';

/** The part of the Engine this command uses. */
export interface EraseEngine {
  loadPack(spec: PackSourceSpec, onProgress?: (progress: PackLoadProgress) => void): Promise<PackSummary>;
  erase(request: EraseRequest): Promise<EditSummary>;
  currentEdit(): { operator: EditOperator; problem: ClosedFormProblem; recipe: ErasureRecipe } | null;
  crossAttentionHostWeights(): { layers: CrossAttentionLayer[]; host: HostProjectionWeights[] };
  dispose(): void | Promise<void>;
}

export interface EraseCommandIo {
  createEngine(): Promise<EraseEngine>;
  readText(path: string): string;
  /** May return a promise (awaited); any other result is ignored. */
  writeFile(path: string, data: Uint8Array | string, flag: string): unknown;
  /** Throws when `path` cannot be written (before any work is done). */
  checkOutput?(path: string, flag: string): void;
  /** Throws when --pack names no folder (before any work is done). */
  checkPack?(value: string): void;
  /** Results (stdout). */
  log(line: string): void;
  /** Progress (stderr). */
  progress(line: string): void;
}

export async function runErase(args: string[], io: EraseCommandIo): Promise<number> {
  const parsed = parseEraseArgs(args, io.readText);
  io.checkPack?.(parsed.pack);
  for (const [path, flag] of [[parsed.out, '--out'], [parsed.weights, '--weights'], [parsed.dump, '--dump']] as const) if (path !== undefined) io.checkOutput?.(path, flag);
  const engine = await io.createEngine();
  try {
    let phase = '';
    const pack = await engine.loadPack(packSpecFromArg(parsed.pack), (p) => {
      if (p.phase !== phase) io.progress(`${(phase = p.phase)}${p.file ? ` ${p.file}` : ''}`);
    });
    io.progress(`pack ${pack.id.slice(0, 12)} (${pack.family}, ${pack.crossAttentionLayers} cross-attention layers)`);
    const summary = await engine.erase(parsed.request);
    await io.writeFile(parsed.out, summary.recipe, '--out');
    io.log(
      [
        `edit ${summary.id}`,
        `erase vectors ${summary.eraseVectors} (rank ${summary.rank}), preserve vectors ${summary.preserveVectors}` +
          (parsed.request.method === 'realera' ? `, RealEra neighbors ${summary.neighbors}, beyond ${summary.beyond}` : ''),
        `solver ${summary.solver}: encode ${ms(summary.ms.encode)}, sample ${ms(summary.ms.sample)}, solve ${ms(summary.ms.solve)}, total ${ms(summary.ms.total)}`,
        `recipe -> ${parsed.out}`,
      ].join('\n'),
    );
    if (parsed.weights !== undefined || parsed.dump !== undefined) {
      const edit = engine.currentEdit();
      if (!edit) throw new InputError('erase: the engine holds no closed-form edit after erase(); nothing to write');
      const metadata = { recipe: summary.recipe, editId: summary.id };
      if (parsed.weights !== undefined) {
        const { layers, host } = engine.crossAttentionHostWeights();
        await io.writeFile(parsed.weights, editedWeightsFile(edit.operator, layers, host, metadata), '--weights');
        io.log(`edited weights (${2 * layers.length} projections) -> ${parsed.weights}`);
      }
      if (parsed.dump !== undefined) {
        await io.writeFile(parsed.dump, editDumpFile(edit.operator, edit.problem, metadata), '--dump');
        io.log(`constraint vectors and M -> ${parsed.dump}`);
      }
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

function ms(value: number): string {
  return `${value.toFixed(0)} ms`;
}

export const eraseCommand: CliCommand = {
  name: 'erase',
  summary: 'erase concepts in closed form (UCE / RealEra); write the recipe, edited weights, vectors',
  usage: ERASE_USAGE,
  run(args) {
    return runErase(args, {
      createEngine: async () => (await import('../../engine/node-engine.ts')).createNodeEngine(),
      readText: (path) => readInputText(path, '--preserve-file'),
      writeFile: (path, data, flag) => writeOutputFile(path, data, flag),
      checkOutput: checkOutputFile,
      checkPack: checkPackArg,
      log: (line) => console.log(line),
      progress: (line) => console.error(line),
    });
  },
};
