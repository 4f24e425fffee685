import { FormatError, InputError } from '../../util/errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What Lethe records about how a LoRA was made. */
export interface LetheLoraProvenance {
  /** Pack family, e.g. "sd15", "sd21", "tiny-sd15". */
  readonly baseFamily: string;
  /** sha256 (64 lowercase hex digits) of the pack's manifest.json. */
  readonly packSha256: string;
  /** Erasure method, e.g. "uce-realera", "esd-x", "crce". */
  readonly method: string;
  readonly conceptSets: JsonValue;
  readonly hyperparameters: JsonValue;
  readonly seed: number;
  readonly rank: number;
}

export interface LoraMetadataInput extends LetheLoraProvenance {
  /** kohya's base model version: "sd_v1" (SD 1.x) or "sd_v2" (SD 2.x). */
  readonly baseModelVersion: 'sd_v1' | 'sd_v2';
  /** Network alpha written for kohya readers (scale = alpha / rank). */
  readonly alpha: number;
  /** SD 2.x 768-v models predict v; kohya records it as ss_v_parameterization. */
  readonly vPrediction?: boolean;
}

/** The kohya/A1111 keys as found in a file; null where absent or not parseable (third-party files vary). */
export interface KohyaLoraMetadata {
  readonly networkModule: string | null;
  readonly networkDim: number | null;
  readonly networkAlpha: number | null;
  readonly v2: boolean | null;
  readonly baseModelVersion: string | null;
}

export const LETHE_METADATA_FORMAT = '1';

const LETHE_KEYS = {
  format: 'lethe_format',
  baseFamily: 'lethe_base_family',
  packSha256: 'lethe_pack_sha256',
  method: 'lethe_method',
  conceptSets: 'lethe_concept_sets',
  hyperparameters: 'lethe_hyperparameters',
  seed: 'lethe_seed',
  rank: 'lethe_rank',
} as const;

/** `__metadata__` for a LoRA Lethe exports: kohya's ss_* keys (A1111, ComfyUI) plus lethe_* provenance. All values are strings. */
export function loraMetadata(input: LoraMetadataInput): Record<string, string> {
  const { baseModelVersion, rank, alpha, seed, packSha256 } = input;
  if (baseModelVersion !== 'sd_v1' && baseModelVersion !== 'sd_v2') throw new InputError(`loraMetadata: baseModelVersion must be "sd_v1" or "sd_v2", got ${String(baseModelVersion)}`);
  if (!Number.isSafeInteger(rank) || rank < 1) throw new InputError(`loraMetadata: rank must be a positive integer, got ${rank}`);
  if (!Number.isFinite(alpha)) throw new InputError(`loraMetadata: alpha must be finite, got ${alpha}`);
  if (!Number.isSafeInteger(seed)) throw new InputError(`loraMetadata: seed must be an integer, got ${seed}`);
  if (!/^[0-9a-f]{64}$/.test(packSha256)) throw new InputError(`loraMetadata: packSha256 must be 64 lowercase hex digits, got ${JSON.stringify(packSha256)}`);
  for (const field of ['baseFamily', 'method'] as const)
    if (typeof input[field] !== 'string' || input[field].length === 0) throw new InputError(`loraMetadata: ${field} must be a non-empty string`);
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(rank),
    ss_network_alpha: String(alpha),
    ss_v2: baseModelVersion === 'sd_v2' ? 'True' : 'False',
    ss_base_model_version: baseModelVersion,
  };
  if (input.vPrediction !== undefined) metadata.ss_v_parameterization = input.vPrediction ? 'True' : 'False';
  metadata[LETHE_KEYS.format] = LETHE_METADATA_FORMAT;
  metadata[LETHE_KEYS.baseFamily] = input.baseFamily;
  metadata[LETHE_KEYS.packSha256] = packSha256;
  metadata[LETHE_KEYS.method] = input.method;
  metadata[LETHE_KEYS.conceptSets] = jsonString(input.conceptSets, 'conceptSets');
  metadata[LETHE_KEYS.hyperparameters] = jsonString(input.hyperparameters, 'hyperparameters');
  metadata[LETHE_KEYS.seed] = String(seed);
  metadata[LETHE_KEYS.rank] = String(rank);
  return metadata;
}

function jsonString(value: JsonValue, field: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new InputError(`loraMetadata: ${field} is not JSON-serializable`);
  // Non-finite numbers would silently become null.
  if (JSON.stringify(JSON.parse(text)) !== text || containsNonFinite(value)) throw new InputError(`loraMetadata: ${field} holds values JSON cannot keep`);
  return text;
}

function containsNonFinite(value: JsonValue): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(containsNonFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsNonFinite);
  return false;
}

/** The kohya/A1111 ss_* keys of any LoRA file, read leniently. */
export function readKohyaMetadata(metadata: Readonly<Record<string, string>>): KohyaLoraMetadata {
  const get = (key: string) => (Object.hasOwn(metadata, key) ? metadata[key] : null);
  const number = (key: string, integer: boolean) => {
    const text = get(key);
    if (text === null || text.trim() === '') return null;
    const value = Number(text);
    return Number.isFinite(value) && (!integer || Number.isSafeInteger(value)) ? value : null;
  };
  const v2 = get('ss_v2');
  return {
    networkModule: get('ss_network_module'),
    networkDim: number('ss_network_dim', true),
    networkAlpha: number('ss_network_alpha', false),
    v2: v2 === 'True' ? true : v2 === 'False' ? false : null,
    baseModelVersion: get('ss_base_model_version'),
  };
}

/**
 * Lethe's provenance from a LoRA's metadata: null when the file has no lethe_* keys (made
 * elsewhere); a FormatError naming the key when they are present but incomplete or malformed.
 */
export function readLetheMetadata(metadata: Readonly<Record<string, string>>, file: string): LetheLoraProvenance | null {
  const present = Object.values(LETHE_KEYS).filter((key) => Object.hasOwn(metadata, key));
  if (present.length === 0) return null;
  const get = (key: string) => {
    if (!Object.hasOwn(metadata, key)) throw new FormatError(file, `__metadata__.${key}`, 'missing (the file has other lethe_* keys)');
    return metadata[key];
  };
  const format = get(LETHE_KEYS.format);
  if (format !== LETHE_METADATA_FORMAT) throw new FormatError(file, `__metadata__.${LETHE_KEYS.format}`, `unsupported version ${JSON.stringify(format)}; expected "${LETHE_METADATA_FORMAT}"`);
  const integer = (key: string, min: number) => {
    const text = get(key);
    const value = /^-?[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min) throw new FormatError(file, `__metadata__.${key}`, `expected an integer >= ${min}, got ${JSON.stringify(text)}`);
    return value;
  };
  const json = (key: string): JsonValue => {
    try {
      return JSON.parse(get(key)) as JsonValue;
    } catch {
      throw new FormatError(file, `__metadata__.${key}`, 'expected a JSON string');
    }
  };
  const packSha256 = get(LETHE_KEYS.packSha256);
  if (!/^[0-9a-f]{64}$/.test(packSha256)) throw new FormatError(file, `__metadata__.${LETHE_KEYS.packSha256}`, `expected 64 lowercase hex digits, got ${JSON.stringify(packSha256)}`);
  const nonEmpty = (key: string) => {
    const text = get(key);
    if (text.length === 0) throw new FormatError(file, `__metadata__.${key}`, 'expected a non-empty string');
    return text;
  };
  return {
    baseFamily: nonEmpty(LETHE_KEYS.baseFamily),
    packSha256,
    method: nonEmpty(LETHE_KEYS.method),
    conceptSets: json(LETHE_KEYS.conceptSets),
    hyperparameters: json(LETHE_KEYS.hyperparameters),
    seed: integer(LETHE_KEYS.seed, Number.MIN_SAFE_INTEGER),
    rank: integer(LETHE_KEYS.rank, 1),
  };
}
