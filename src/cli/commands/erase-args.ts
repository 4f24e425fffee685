/**
 * `lethe erase` flags -> an EraseRequest and the output paths. Pure: the preserve file is read
 * through the `readText` it is given, so tests need no files.
 *
 * --anchor and --coref belong to the --concept before them, so several targets can each have
 * their own: `--concept "van gogh" --coref vincent --concept monet --anchor "a painter"`.
 */
import { UsageError } from '../command.ts';
import { InputError, InputNotFoundError } from '../../util/errors.ts';
import type { EraseRequest } from '../../engine/api.ts';
import { CONCEPT_KINDS, defineConceptSet, type ConceptKind, type ConceptSetInput } from '../../erasure/concept-sets.ts';
import { ERASURE_METHODS, type ErasureMethod } from '../../erasure/recipe.ts';
import { SHARED_ROWS_MODES, type SharedRowsMode } from '../../erasure/shared-rows.ts';
import { TOKEN_SELECTION_MODES, type TokenSelectionMode } from '../../erasure/token-selection.ts';

export const ERASE_USAGE =
  'lethe erase --pack DIR --concept X [--anchor A] [--coref C ...] [--concept Y ...] [--retain R ...] [--preserve-file F] ' +
  '[--kind object|style|person] [--method uce|realera] [--lambda L] [--erase-scale S] [--preserve-scale S] [--seed S] [--tokens last|subject|all] [--shared-rows keep|free] ' +
  '--out recipe.json [--weights edited.safetensors] [--dump vectors.safetensors]';

/** The token mode when --tokens is not given: the subject tokens and those after it (UCE 2023, RealEra). */
export const DEFAULT_TOKENS: TokenSelectionMode = 'subject';

export interface EraseArgs {
  /** Pack directory (--pack). */
  readonly pack: string;
  /** Recipe JSON path (--out). */
  readonly out: string;
  /** Edited to_k/to_v weights (--weights). */
  readonly weights?: string;
  /** Constraint vectors and M (--dump). */
  readonly dump?: string;
  readonly request: EraseRequest;
}

const VALUE_FLAGS = [
  'pack',
  'concept',
  'anchor',
  'coref',
  'retain',
  'preserve-file',
  'kind',
  'method',
  'lambda',
  'erase-scale',
  'preserve-scale',
  'seed',
  'tokens',
  'shared-rows',
  'out',
  'weights',
  'dump',
] as const;
type Flag = (typeof VALUE_FLAGS)[number];
const SINGLE_FLAGS: readonly Flag[] = ['pack', 'preserve-file', 'kind', 'method', 'lambda', 'erase-scale', 'preserve-scale', 'seed', 'tokens', 'shared-rows', 'out', 'weights', 'dump'];

interface TargetDraft {
  concept: string;
  anchor?: string;
  corefs: string[];
}

export function parseEraseArgs(args: readonly string[], readText: (path: string) => string): EraseArgs {
  const single = new Map<Flag, string>();
  const targets: TargetDraft[] = [];
  const retains: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}; every value follows its flag (e.g. --concept "${arg}")`);
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    if (!(VALUE_FLAGS as readonly string[]).includes(name))
      throw new UsageError(`unknown flag --${name}; expected one of ${VALUE_FLAGS.map((f) => `--${f}`).join(', ')}`);
    const flag = name as Flag;
    let value: string;
    if (equals >= 0) value = arg.slice(equals + 1);
    else {
      if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new UsageError(`--${flag} needs a value`);
      value = args[++i];
    }
    if (SINGLE_FLAGS.includes(flag)) {
      if (single.has(flag)) throw new UsageError(`--${flag} given twice (${JSON.stringify(single.get(flag))} and ${JSON.stringify(value)}); give it once`);
      single.set(flag, value);
      continue;
    }
    const current = targets[targets.length - 1];
    switch (flag) {
      case 'concept':
        targets.push({ concept: value, corefs: [] });
        break;
      case 'anchor':
        if (!current) throw new UsageError(`--anchor ${JSON.stringify(value)} comes before any --concept; put it after the --concept it belongs to`);
        if (current.anchor !== undefined)
          throw new UsageError(`--anchor given twice for --concept ${JSON.stringify(current.concept)}; each concept has one anchor`);
        current.anchor = value;
        break;
      case 'coref':
        if (!current) throw new UsageError(`--coref ${JSON.stringify(value)} comes before any --concept; put it after the --concept it belongs to`);
        current.corefs.push(value);
        break;
      case 'retain':
        retains.push(value);
        break;
    }
  }

  const pack = single.get('pack');
  if (pack === undefined || pack === '') throw new UsageError('--pack is required: the model pack directory');
  const out = single.get('out');
  if (out === undefined || out === '') throw new UsageError('--out is required: where to write the recipe JSON');
  if (targets.length === 0) throw new UsageError('--concept is required: at least one concept to erase');

  const kind = choice<ConceptKind>('kind', single.get('kind'), CONCEPT_KINDS);
  const method = choice<ErasureMethod>('method', single.get('method'), ERASURE_METHODS) ?? 'uce';
  const tokens = choice<TokenSelectionMode>('tokens', single.get('tokens'), TOKEN_SELECTION_MODES) ?? DEFAULT_TOKENS;
  const sharedRows = choice<SharedRowsMode>('shared-rows', single.get('shared-rows'), SHARED_ROWS_MODES);

  const positive = (flag: 'lambda' | 'erase-scale' | 'preserve-scale', usual: string): number | undefined => {
    const text = single.get(flag);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new UsageError(`--${flag}: expected a number > 0 (${usual}), got ${JSON.stringify(text)}`);
    return value;
  };
  const lambda = positive('lambda', 'UCE uses 0.5');
  const eraseScale = positive('erase-scale', 'UCE and RealEra use 1');
  const preserveScale = positive('preserve-scale', 'UCE uses 1, RealEra 0.1');
  const closedForm = {
    ...(lambda !== undefined ? { lambda } : {}),
    ...(eraseScale !== undefined ? { eraseScale } : {}),
    ...(preserveScale !== undefined ? { preserveScale } : {}),
  };
  const seedText = single.get('seed');
  let seed: number | undefined;
  if (seedText !== undefined) {
    if (method !== 'realera') throw new UsageError(`--seed: the seed drives RealEra sampling; it needs --method realera (method is ${method})`);
    seed = Number(seedText);
    if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed) || seed > 0xffffffff)
      throw new UsageError(`--seed: expected an integer in [0, 4294967295], got ${JSON.stringify(seedText)}`);
  }

  const preserveFile = single.get('preserve-file');
  const preserve = preserveFile === undefined ? [] : readPreserveFile(preserveFile, readText);

  const concepts: ConceptSetInput = {
    ...(kind ? { kind } : {}),
    targets: targets.map((t) => ({ concept: t.concept, ...(t.anchor !== undefined ? { anchor: t.anchor } : {}), corefs: t.corefs })),
    retains,
    preserve,
  };
  // Fails now (InputError naming the field) rather than after the pack has loaded.
  defineConceptSet(concepts);
  const request: EraseRequest = {
    concepts,
    method,
    tokens,
    ...(sharedRows !== undefined ? { sharedRows } : {}),
    ...(method === 'realera' ? { realera: seed === undefined ? {} : { seed } } : {}),
    ...(Object.keys(closedForm).length > 0 ? { closedForm } : {}),
  };
  const weights = single.get('weights');
  const dump = single.get('dump');
  return { pack, out, request, ...(weights !== undefined ? { weights } : {}), ...(dump !== undefined ? { dump } : {}) };
}

/** One concept per line; blank lines and lines starting with # are skipped. */
export function parsePreserveList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function readPreserveFile(path: string, readText: (path: string) => string): string[] {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    if (error instanceof InputError || error instanceof InputNotFoundError) throw error;
    throw new UsageError(`--preserve-file: cannot read ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
  const list = parsePreserveList(text);
  if (list.length === 0) throw new UsageError(`--preserve-file: ${JSON.stringify(path)} lists no concepts (one per line; # starts a comment line)`);
  return list;
}

function choice<T extends string>(flag: Flag, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: expected one of ${allowed.join('|')}, got ${JSON.stringify(value)}`);
  return value as T;
}
