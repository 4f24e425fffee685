import { resolve } from 'node:path';
import { UsageError, type CliCommand } from '../command.ts';
import type { EngineApi, LoraExportOptions, LoraExportResult, PackLoadProgress } from '../../engine/api.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { readInputText } from '../input-file.ts';
import { checkOutputFile, writeOutputFile } from '../output-file.ts';

/** What `lethe export` needs of the engine (the Node engine, or a stand-in in tests). */
export type ExportEngine = Pick<EngineApi, 'loadPack' | 'applyRecipe' | 'exportLora'> & { dispose?(): unknown };

export interface ExportArgs {
  recipe: string;
  pack: string;
  options: LoraExportOptions;
  /** null: the exporter's file name, in the working directory. */
  out: string | null;
}

const USAGE = 'lethe export --recipe recipe.json --pack PACK_DIR [--format diffusers|kohya] [--rank exact|R] [--dtype fp16|fp32] [--out erase.safetensors]';

/** Parses the flags; defaults: kohya, exact rank, fp32, the exporter's file name. */
export function parseExportArgs(args: readonly string[]): ExportArgs {
  const values = new Map<string, string>();
  const known = ['--recipe', '--pack', '--format', '--rank', '--dtype', '--out'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!known.includes(flag)) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    const value = inline ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    if (values.has(flag)) throw new UsageError(`${flag} given twice`);
    values.set(flag, value);
  }
  const recipe = values.get('--recipe');
  const pack = values.get('--pack');
  if (!recipe) throw new UsageError('--recipe is required (an erasure recipe JSON file)');
  if (!pack) throw new UsageError('--pack is required (a Lethe pack directory)');
  const convention = values.get('--format') ?? 'kohya';
  if (convention !== 'diffusers' && convention !== 'kohya') throw new UsageError(`--format: expected diffusers or kohya, got ${JSON.stringify(convention)}`);
  const dtype = values.get('--dtype') ?? 'fp32';
  if (dtype !== 'fp16' && dtype !== 'fp32') throw new UsageError(`--dtype: expected fp16 or fp32, got ${JSON.stringify(dtype)}`);
  const rankText = values.get('--rank') ?? 'exact';
  let rank: LoraExportOptions['rank'] = 'exact';
  if (rankText !== 'exact') {
    rank = /^[1-9][0-9]{0,5}$/.test(rankText) ? Number(rankText) : NaN;
    if (Number.isNaN(rank)) throw new UsageError(`--rank: expected "exact" or a positive integer, got ${JSON.stringify(rankText)}`);
  }
  return { recipe, pack, options: { convention, dtype, rank }, out: values.get('--out') ?? null };
}

/** The per-layer error table of a truncated export (one line per projection, then the worst). */
export function formatLayerErrors(result: LoraExportResult): string {
  const width = Math.max(6, ...result.layers.map((layer) => layer.module.length));
  const lines = [`${'module'.padEnd(width)}  rank  relative error`];
  for (const layer of result.layers) lines.push(`${layer.module.padEnd(width)}  ${String(layer.rank).padStart(4)}  ${layer.relativeError.toExponential(3)}`);
  lines.push(`${'worst'.padEnd(width)}  ${String(result.rank).padStart(4)}  ${result.worstRelativeError.toExponential(3)}`);
  return lines.join('\n');
}

export function createExportCommand(createEngine: () => Promise<ExportEngine>): CliCommand {
  return {
    name: 'export',
    summary: 'recompute an erasure from its recipe and write it as a LoRA (diffusers or kohya safetensors)',
    usage: USAGE,
    async run(args) {
      const parsed = parseExportArgs(args);
      const recipeJson = readInputText(parsed.recipe, '--recipe');
      if (parsed.out !== null) checkOutputFile(parsed.out, '--out');
      checkPackArg(parsed.pack);
      const engine = await createEngine();
      try {
        let phase = '';
        const pack = await engine.loadPack(packSpecFromArg(parsed.pack), (progress: PackLoadProgress) => {
          if (progress.phase !== phase) process.stderr.write(`pack: ${(phase = progress.phase)}\n`);
        });
        console.log(`pack ${pack.family} ${pack.dtype} (${pack.id.slice(0, 12)}): ${pack.crossAttentionLayers} cross-attention layers`);
        const edit = await engine.applyRecipe(recipeJson);
        console.log(`edit ${edit.id.slice(0, 12)}: rank ${edit.rank} (${edit.eraseVectors} erase, ${edit.preserveVectors} preserve vectors), ${edit.ms.total.toFixed(0)} ms`);
        const result = await engine.exportLora(parsed.options);
        const skipped = (result as LoraExportResult & { skipped?: string[] }).skipped ?? [];
        if (parsed.options.rank !== 'exact' && result.worstRelativeError > 0) console.log(formatLayerErrors(result));
        else console.log(`exact: rank ${result.rank}, no truncation`);
        if (skipped.length > 0) console.log(`not written (update exactly zero): ${skipped.join(', ')}`);
        const out = resolve(parsed.out ?? result.fileName);
        await writeOutputFile(out, result.bytes, '--out');
        console.log(`wrote ${out}: ${parsed.options.convention} ${parsed.options.dtype}, rank ${result.rank}, ${result.layers.length} projections, ${result.bytes.length} bytes`);
        return 0;
      } finally {
        await engine.dispose?.();
      }
    },
  };
}

export const exportCommand: CliCommand = createExportCommand(async () => (await import('../../engine/node-engine.ts')).createNodeEngine());
