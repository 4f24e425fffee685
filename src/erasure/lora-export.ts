/**
 * LoRA export of cross-attention edits (pure, CPU).
 *
 * The closed-form edit W' = W M with M = I + U V^T changes every to_k / to_v by the rank-n_e
 * product (W U) V^T, so its exact LoRA is up = W U, down = V^T: no SVD is needed for rank
 * 'exact'. A smaller rank is the best rank-r approximation of that product (truncateLora: QR of
 * both factors and an SVD of the n_e x n_e core, exact and cheap, never forming the delta).
 * Every exported layer is written with alpha = rank (scale 1), so the file holds the update
 * itself in both conventions. lethe_pack_sha256 names the pack whose weights W gave up = W U
 * (the recipe in lethe_recipe keeps its own pack field).
 */
import { isCrossAttentionKeyValue } from '../formats/lora/module-grammar.ts';
import type { LoraLayerDelta } from '../formats/lora/layer.ts';
import { loraMetadata, type JsonValue } from '../formats/lora/metadata.ts';
import { writeLora } from '../formats/lora/writer.ts';
import { PACK_FAMILIES, type CrossAttentionLayer, type PackFamily } from '../model/manifest.ts';
import { InputError, ShapeError } from '../util/errors.ts';
import { exactLora, type EditOperator, type LowRankUpdate } from './closed-form.ts';
import { truncateLora } from './lora-truncation.ts';
import { serializeRecipe, type ErasureRecipe } from './recipe.ts';

export type KvProjection = 'to_k' | 'to_v';

export interface LoraExportOptions {
  convention: 'diffusers' | 'kohya';
  /** 'exact': rank = erase vectors, no truncation; a number: truncated SVD to that rank. */
  rank: 'exact' | number;
  dtype: 'fp16' | 'fp32';
}

export interface LoraLayerError {
  module: string;
  rank: number;
  /** |Delta - Delta_r|_F / |Delta|_F (0 for exact exports). */
  relativeError: number;
}

export interface LoraExportResult {
  bytes: Uint8Array;
  fileName: string;
  rank: number;
  layers: LoraLayerError[];
  worstRelativeError: number;
}

/** One projection's low-rank update to export: W' = W + scale * up @ down. */
export interface LoraExportLayer extends LowRankUpdate {
  /** The cross-attention module, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn2`. */
  readonly module: string;
  readonly projection: KvProjection;
  /** Default 1; folded into `up` on export. */
  readonly scale?: number;
}

/** What the file's `__metadata__` and name record about where the update came from. */
export interface LoraExportProvenance {
  readonly family: PackFamily;
  /** sha256 of the pack's manifest.json. */
  readonly packSha256: string;
  /** e.g. "uce", "realera", "esd-x". */
  readonly method: string;
  readonly conceptSets: JsonValue;
  readonly hyperparameters: JsonValue;
  readonly seed: number;
  /** What the file name says, e.g. "erase-van-gogh" (made safe: [a-z0-9-] only). */
  readonly name: string;
  /** More `__metadata__` keys (lethe_recipe, ...); they may not replace the standard ones. */
  readonly extraMetadata?: Readonly<Record<string, string>>;
}

/** LoraExportResult plus the projections left out because their delta is exactly zero. */
export interface LoraExport extends LoraExportResult {
  /** Module paths (`...attn2.to_k`) whose update is exactly zero: not written, said here. */
  readonly skipped: string[];
}

/** The pack's cross-attention weights, float32 [out, in] row-major, in `layers` order. */
export interface HostProjections {
  readonly toK: Float32Array;
  readonly toV: Float32Array;
}

export interface EditExportInput {
  readonly operator: EditOperator;
  readonly layers: readonly CrossAttentionLayer[];
  readonly host: readonly HostProjections[];
  /** The edit's recipe (null: an edit without one; the metadata then has no concept sets). */
  readonly recipe: ErasureRecipe | null;
  readonly packSha256: string;
  readonly family: PackFamily;
  /**
   * W U per projection (out x n_e, float32), when the engine already has them (e.g. from
   * exactLoraUpsGpu); otherwise they are computed here in float64 (~0.3 s for SD 1.5's 32).
   */
  readonly ups?: readonly HostProjections[];
}

/** The closed-form edit W' = W M as a LoRA over every to_k / to_v of the pack. */
export function exportEditAsLora(input: EditExportInput, options: LoraExportOptions): LoraExport {
  const { operator, layers, host, recipe } = input;
  if (input.ups && input.ups.length !== layers.length) throw new InputError(`exportEditAsLora: ups: expected ${layers.length} layers, got ${input.ups.length}`);
  if (host.length !== layers.length) throw new InputError(`exportEditAsLora: host: expected weights for ${layers.length} cross-attention layers, got ${host.length}`);
  const factors: LoraExportLayer[] = layers.flatMap((layer, i) =>
    (['to_k', 'to_v'] as const).map((projection) => {
      const spec = projection === 'to_k' ? layer.toK : layer.toV;
      const weight = projection === 'to_k' ? host[i].toK : host[i].toV;
      const [out, inFeatures] = spec.shape;
      const module = `${layer.module}.${projection}`;
      if (inFeatures !== operator.width)
        throw new ShapeError(`exportEditAsLora: ${module}: takes ${inFeatures}-wide embeddings, the edit operator is ${operator.width} wide`);
      if (weight.length !== out * inFeatures) throw new ShapeError(`exportEditAsLora: ${module}: expected ${out} x ${inFeatures} weights, got ${weight.length} values`);
      const up = input.ups ? (projection === 'to_k' ? input.ups[i].toK : input.ups[i].toV) : null;
      if (!up) return { module: layer.module, projection, ...exactLora(operator, weight, out) };
      if (up.length !== out * operator.rank) throw new ShapeError(`exportEditAsLora: ups: ${module}: expected ${out} x ${operator.rank} values, got ${up.length}`);
      return { module: layer.module, projection, outFeatures: out, inFeatures, rank: operator.rank, up, down: Float32Array.from(operator.vt) };
    }),
  );
  const closedForm = recipe?.closedForm ?? { lambda: operator.lambda, solver: operator.solver };
  const provenance: LoraExportProvenance = {
    family: input.family,
    packSha256: input.packSha256,
    method: recipe?.method ?? 'closed-form',
    conceptSets: recipe ? jsonOf(recipe.concepts) : null,
    hyperparameters: jsonOf({
      closedForm,
      eraseVectors: operator.rank,
      prompts: recipe?.prompts ?? null,
      realera: recipe?.realera?.options ?? null,
      export: { rank: options.rank, dtype: options.dtype, convention: options.convention },
    }),
    seed: recipe?.realera?.seed ?? 0,
    name: `erase-${conceptSlug(recipe)}`,
    extraMetadata: recipe ? { lethe_recipe: serializeRecipe(recipe) } : undefined,
  };
  return exportLoraLayers(factors, options, provenance);
}

/**
 * Any set of to_k / to_v low-rank updates (closed-form, trained) as one LoRA file: exact factors,
 * or each truncated to `options.rank` with its relative Frobenius error reported.
 */
export function exportLoraLayers(layers: readonly LoraExportLayer[], options: LoraExportOptions, provenance: LoraExportProvenance): LoraExport {
  const target = checkOptions(options);
  const written: LoraLayerDelta[] = [];
  const errors: LoraLayerError[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const layer of layers) {
    const module = `${layer.module}.${layer.projection}`;
    checkExportLayer(layer, module);
    if (seen.has(module)) throw new InputError(`exportLoraLayers: ${module} given twice`);
    seen.add(module);
    const scale = layer.scale ?? 1;
    if (!Number.isFinite(scale)) throw new InputError(`exportLoraLayers: ${module}: scale must be finite, got ${scale}`);
    if (scale === 0 || isExactlyZero(layer)) {
      skipped.push(module);
      continue;
    }
    const scaled: LowRankUpdate = scale === 1 ? layer : { ...layer, up: layer.up.map((value) => value * scale) };
    let factors: LowRankUpdate = scaled;
    let relativeError = 0;
    if (target !== 'exact' && target < layer.rank) {
      const truncated = truncateLora(scaled, target);
      factors = truncated;
      relativeError = truncated.relativeError;
    }
    const { rank, up, down, inFeatures, outFeatures } = factors;
    written.push({ module, rank, up, down, inFeatures, outFeatures, alpha: rank });
    errors.push({ module, rank, relativeError });
  }
  if (written.length === 0)
    throw new InputError(`exportLoraLayers: every update is exactly zero (${skipped.length} projections); there is nothing to export`);
  const rank = Math.max(...written.map((layer) => layer.rank));
  const metadata = loraMetadata({
    baseModelVersion: baseModelVersion(provenance.family),
    alpha: rank,
    baseFamily: provenance.family,
    packSha256: provenance.packSha256,
    method: provenance.method,
    conceptSets: provenance.conceptSets,
    hyperparameters: provenance.hyperparameters,
    seed: provenance.seed,
    rank,
  });
  for (const [key, value] of Object.entries(provenance.extraMetadata ?? {})) {
    if (Object.hasOwn(metadata, key)) throw new InputError(`exportLoraLayers: extraMetadata: ${key} would replace a standard metadata key`);
    metadata[key] = value;
  }
  const bytes = writeLora(written, { convention: options.convention, dtype: options.dtype, metadata });
  return {
    bytes,
    fileName: loraFileName(provenance.name, rank, options.convention),
    rank,
    layers: errors,
    worstRelativeError: Math.max(...errors.map((e) => e.relativeError)),
    skipped,
  };
}

/** kohya's ss_base_model_version for a pack family (SD 2.x: 1024-wide text embeddings). */
export function baseModelVersion(family: PackFamily): 'sd_v1' | 'sd_v2' {
  switch (family) {
    case 'sd15':
    case 'tiny-sd15':
      return 'sd_v1';
    case 'sd21':
    case 'tiny-sd21':
      return 'sd_v2';
    default:
      throw new InputError(`LoRA export: family: expected one of ${PACK_FAMILIES.join(', ')}, got ${String(family)}`);
  }
}

/** `lethe-<name>-r<rank>-<convention>.safetensors`, with `name` reduced to [a-z0-9-]. */
export function loraFileName(name: string, rank: number, convention: LoraExportOptions['convention']): string {
  const stem = slug(name) || 'edit';
  return `lethe-${stem}-r${rank}-${convention}.safetensors`;
}

/** "Van Gogh" -> "van-gogh"; several targets are joined ("a-and-b", "a-and-2-more"). */
export function conceptSlug(recipe: ErasureRecipe | null): string {
  const targets = recipe?.concepts.targets.map((t) => slug(t.concept)).filter((s) => s.length > 0) ?? [];
  if (targets.length === 0) return recipe ? 'concept' : 'edit';
  if (targets.length === 1) return targets[0];
  if (targets.length === 2) return `${targets[0]}-and-${targets[1]}`;
  return `${targets[0]}-and-${targets.length - 1}-more`;
}

const MAX_SLUG = 48;

function slug(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents split off by NFKD
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return ascii.slice(0, MAX_SLUG).replace(/-+$/, '');
}

function checkOptions(options: LoraExportOptions): 'exact' | number {
  const { convention, dtype, rank } = options;
  if (convention !== 'diffusers' && convention !== 'kohya') throw new InputError(`LoRA export: convention: expected "diffusers" or "kohya", got ${String(convention)}`);
  if (dtype !== 'fp16' && dtype !== 'fp32') throw new InputError(`LoRA export: dtype: expected "fp16" or "fp32", got ${String(dtype)}`);
  if (rank !== 'exact' && !(Number.isSafeInteger(rank) && rank >= 1)) throw new InputError(`LoRA export: rank: expected "exact" or a positive integer, got ${String(rank)}`);
  return rank;
}

function checkExportLayer(layer: LoraExportLayer, module: string): void {
  if (layer.projection !== 'to_k' && layer.projection !== 'to_v') throw new InputError(`exportLoraLayers: ${layer.module}: projection must be "to_k" or "to_v", got ${String(layer.projection)}`);
  if (!isCrossAttentionKeyValue(module)) throw new InputError(`exportLoraLayers: ${JSON.stringify(layer.module)} is not a cross-attention module (e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2)`);
  const { rank, outFeatures, inFeatures, up, down } = layer;
  for (const [name, value] of [['rank', rank], ['outFeatures', outFeatures], ['inFeatures', inFeatures]] as const)
    if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`exportLoraLayers: ${module}: ${name} must be a positive integer, got ${value}`);
  if (up.length !== outFeatures * rank) throw new ShapeError(`exportLoraLayers: ${module}: up: expected ${outFeatures} x ${rank} values, got ${up.length}`);
  if (down.length !== rank * inFeatures) throw new ShapeError(`exportLoraLayers: ${module}: down: expected ${rank} x ${inFeatures} values, got ${down.length}`);
}

/** up @ down = sum_k up[:, k] down[k, :] is exactly zero when each term has a zero factor. */
function isExactlyZero(layer: LowRankUpdate): boolean {
  const { rank, outFeatures, inFeatures, up, down } = layer;
  for (let k = 0; k < rank; k++) {
    let upZero = true;
    for (let o = 0; o < outFeatures && upZero; o++) upZero = up[o * rank + k] === 0;
    if (upZero) continue;
    let downZero = true;
    for (let j = 0; j < inFeatures && downZero; j++) downZero = down[k * inFeatures + j] === 0;
    if (!downZero) return false;
  }
  return true;
}

function jsonOf(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
