/**
 * `lethe pack --from DIR_OR_HUB_ID --out PACK`: a pack from a diffusers repo, in a local folder
 * or on the Hugging Face hub (owner/name, `--revision`, token from `--token` or $HF_TOKEN).
 */
import { stat } from 'node:fs/promises';
import { UsageError, type CliCommand } from '../../cli/command.ts';
import { nodeDirectorySink, nodeDirectorySource } from '../converter/node-files.ts';
import { PIECE_PLANS, type PiecePlan } from '../converter/pieces.ts';
import { HubSource } from '../sources/hub.ts';
import { buildPackFromDiffusers, type DiffusersPackOptions } from './build-pack.ts';
import { packSourceReader } from './pack-source-reader.ts';
import type { WeightVariant } from './checkpoint.ts';
import type { PackDtype } from './bind-weights.ts';

const USAGE = 'lethe pack --from DIR_OR_HUB_ID --out PACK_DIR [--plan default|blocks] [--dtype fp16|fp32] [--variant auto|fp16|main] [--revision REV] [--token TOKEN]';
const FLAGS = ['--from', '--out', '--plan', '--dtype', '--variant', '--revision', '--token'];

export function parsePackArgs(args: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (!FLAGS.includes(flag)) throw new UsageError(`unknown argument "${flag}"`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    if (flag in values) throw new UsageError(`${flag} given twice`);
    values[flag] = value;
    i++;
  }
  for (const required of ['--from', '--out']) if (!(required in values)) throw new UsageError(`${required} is required`);
  const oneOf = (flag: string, allowed: readonly string[]): void => {
    if (flag in values && !allowed.includes(values[flag])) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${values[flag]}"`);
  };
  oneOf('--plan', PIECE_PLANS);
  oneOf('--dtype', ['fp16', 'fp32']);
  oneOf('--variant', ['auto', 'fp16', 'main']);
  return values;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function runPackCli(args: string[]): Promise<number> {
  const flags = parsePackArgs(args);
  const from = flags['--from'];
  let source;
  if (await isDirectory(from)) source = nodeDirectorySource(from);
  else if (/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(from))
    source = packSourceReader(new HubSource({ repo: from, revision: flags['--revision'], token: flags['--token'] ?? process.env.HF_TOKEN }));
  else throw new UsageError(`--from "${from}" is neither a directory nor a hub repo id (owner/name)`);
  const options: DiffusersPackOptions = {
    plan: flags['--plan'] as PiecePlan | undefined,
    dtype: flags['--dtype'] as PackDtype | undefined,
    variant: flags['--variant'] as WeightVariant | undefined,
  };
  let lastFile = '';
  const started = Date.now();
  const manifest = await buildPackFromDiffusers(source, nodeDirectorySink(flags['--out']), {
    ...options,
    onProgress: ({ file, filesDone, filesTotal }) => {
      if (file && file !== lastFile) process.stderr.write(`[${filesDone + 1}/${filesTotal}] ${file}\n`);
      lastFile = file ?? lastFile;
    },
  });
  process.stderr.write(
    `wrote a ${manifest.family} ${manifest.dtype} pack to ${flags['--out']}: ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  return 0;
}

export const packCommand: CliCommand = {
  name: 'pack',
  summary: 'build a pack from a diffusers Stable Diffusion 1.x/2.x repo (folder or hub id)',
  usage: USAGE,
  run: runPackCli,
};
