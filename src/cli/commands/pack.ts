/**
 * `lethe pack --from DIR_OR_HUB_ID --out PACK`: a pack from a diffusers repo, in a local folder
 * or on the Hugging Face hub (owner/name, `--revision`, token from `--token` or $HF_TOKEN).
 */
import { stat } from 'node:fs/promises';
import { UsageError, type CliCommand } from '../command.ts';
import { choiceFlag, parseFlags, requireFlag } from '../flags.ts';
import { fileProgressPrinter } from '../file-progress.ts';
import { withOutputFolder } from '../output-file.ts';
import { nodeDirectorySink } from '../../model/converter/node-files.ts';
import { NodeFolderSource } from '../../model/sources/node-folder.ts';
import { PIECE_PLANS, type PiecePlan } from '../../model/converter/pieces.ts';
import { HubSource } from '../../model/sources/hub.ts';
import { buildPackFromDiffusers } from '../../model/diffusers/build-pack.ts';
import { packSourceReader } from '../../model/diffusers/pack-source-reader.ts';
import type { WeightVariant } from '../../model/diffusers/checkpoint.ts';
import type { PackDtype } from '../../model/diffusers/bind-weights.ts';

const USAGE =
  'lethe pack --from DIR_OR_HUB_ID --out PACK_DIR [--plan default|blocks] [--dtype fp16|fp32] [--variant auto|fp16|main] [--revision REV] [--token TOKEN]';
const FLAGS = {
  from: { type: 'string' },
  out: { type: 'string' },
  plan: { type: 'string' },
  dtype: { type: 'string' },
  variant: { type: 'string' },
  revision: { type: 'string' },
  token: { type: 'string' },
} as const;

interface PackFlags {
  from: string;
  out: string;
  plan?: PiecePlan;
  dtype?: PackDtype;
  variant?: WeightVariant;
  revision?: string;
  token?: string;
}

/** A choice left unset stays undefined: the builder then picks its own default (fp16 where the repo has it). */
function optionalChoice<C extends string>(value: string | undefined, flag: string, choices: readonly C[]): C | undefined {
  return value === undefined ? undefined : choiceFlag(value, flag, choices, choices[0]);
}

function readPackFlags(args: readonly string[]): PackFlags {
  const { values } = parseFlags([...args], FLAGS);
  return {
    from: requireFlag(values.from, '--from'),
    out: requireFlag(values.out, '--out'),
    plan: optionalChoice(values.plan, '--plan', PIECE_PLANS),
    dtype: optionalChoice(values.dtype, '--dtype', ['fp16', 'fp32'] as const),
    variant: optionalChoice(values.variant, '--variant', ['auto', 'fp16', 'main'] as const),
    revision: values.revision,
    token: values.token,
  };
}

/** The flags given, keyed as written (`--from`), after checking the required ones and every choice. */
export function parsePackArgs(args: readonly string[]): Record<string, string> {
  const flags = readPackFlags(args);
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(flags)) if (value !== undefined) given[`--${name}`] = value;
  return given;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function runPackCli(args: string[]): Promise<number> {
  const { from, out, plan, dtype, variant, revision, token } = readPackFlags(args);
  let source;
  if (await isDirectory(from)) source = new NodeFolderSource(from);
  else if (/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(from))
    source = packSourceReader(new HubSource({ repo: from, revision, token: token ?? process.env.HF_TOKEN }));
  else throw new UsageError(`--from "${from}" is neither a directory nor a hub repo id (owner/name)`);
  const started = Date.now();
  // Built in a staging folder next to --out and moved in when complete: a failure leaves nothing behind.
  const manifest = await withOutputFolder(out, '--out', (staging) =>
    buildPackFromDiffusers(source, nodeDirectorySink(staging), { plan, dtype, variant, onProgress: fileProgressPrinter() }),
  );
  process.stderr.write(
    `wrote a ${manifest.family} ${manifest.dtype} pack to ${out}: ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  return 0;
}

export const packCommand: CliCommand = {
  name: 'pack',
  summary: 'build a pack from a diffusers Stable Diffusion 1.x/2.x repo (folder or hub id)',
  usage: USAGE,
  run: runPackCli,
};
