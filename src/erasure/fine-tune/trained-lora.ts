/**
 * A fine-tuning result as LoRA factors: per attn2 to_k / to_v, the closed-form factors (when
 * training started from the closed-form edit) and the trained ones side by side,
 *   W' = W + up_cf down_cf + s B A = W + [up_cf | s B] [down_cf ; A],
 * one low-rank update of rank n_e + r per projection. The studio applies exactly these float32
 * factors (scale 1) and the exporter writes them, so an exported file re-imports pixel for pixel.
 */
import type { PackFamily } from '../../model/manifest.ts';
import { ShapeError } from '../../util/errors.ts';
import { exportLoraLayers, conceptSlug, type LoraExport, type LoraExportLayer, type LoraExportOptions } from '../lora-export.ts';
import { serializeRecipe, type ErasureRecipe } from '../recipe.ts';
import type { JsonValue } from '../../formats/lora/metadata.ts';
import type { TrainedLora } from './fine-tune-loop.ts';

/** A projection's low-rank update on the CPU: W' = W + up @ down, up [out, r], down [r, in]. */
export interface HostLowRank {
  readonly up: Float32Array;
  readonly down: Float32Array;
  readonly rank: number;
}

/** The closed-form factors per layer (scale 1), as the engine holds them. */
export interface ClosedFormFactors {
  readonly toK: readonly HostLowRank[];
  readonly toV: readonly HostLowRank[];
}

/** Every projection's combined update: closed-form factors first (when given), then s B and A. */
export function combinedLoraLayers(lora: TrainedLora, closedForm: ClosedFormFactors | null): LoraExportLayer[] {
  const scale = lora.alpha / lora.rank;
  return lora.layers.flatMap((layer, i) =>
    (['to_k', 'to_v'] as const).map((projection): LoraExportLayer => {
      const [outFeatures, inFeatures] = (projection === 'to_k' ? layer.toK : layer.toV).shape;
      const trained = projection === 'to_k' ? lora.toK[i] : lora.toV[i];
      const base = closedForm ? (projection === 'to_k' ? closedForm.toK[i] : closedForm.toV[i]) : null;
      const r = lora.rank;
      if (trained.a.length !== r * inFeatures || trained.b.length !== outFeatures * r) throw new ShapeError(`${layer.module}.${projection}: trained factors do not match rank ${r} and [${outFeatures}, ${inFeatures}]`);
      const n = base?.rank ?? 0;
      if (base && (base.up.length !== outFeatures * n || base.down.length !== n * inFeatures)) throw new ShapeError(`${layer.module}.${projection}: closed-form factors do not match rank ${n} and [${outFeatures}, ${inFeatures}]`);
      const rank = n + r;
      const up = new Float32Array(outFeatures * rank);
      for (let o = 0; o < outFeatures; o++) {
        for (let k = 0; k < n; k++) up[o * rank + k] = base!.up[o * n + k];
        for (let k = 0; k < r; k++) up[o * rank + n + k] = scale * trained.b[o * r + k];
      }
      const down = new Float32Array(rank * inFeatures);
      if (base) down.set(base.down);
      down.set(trained.a, n * inFeatures);
      return { module: layer.module, projection, rank, outFeatures, inFeatures, up, down };
    }),
  );
}

export interface TrainedExportInput {
  readonly lora: TrainedLora;
  readonly closedForm: ClosedFormFactors | null;
  /** The recipe with its fineTune section (goes into the file's lethe_recipe). */
  readonly recipe: ErasureRecipe;
  readonly packSha256: string;
  readonly family: PackFamily;
}

/** The fine-tuned edit as one LoRA file (kohya or diffusers) with the recipe that replays it. */
export function exportTrainedLora(input: TrainedExportInput, options: LoraExportOptions): LoraExport {
  const { recipe } = input;
  const fineTune = recipe.fineTune ?? null;
  const method = fineTune ? (input.closedForm ? `${recipe.method}+${fineTune.objective}` : fineTune.objective) : recipe.method;
  return exportLoraLayers(combinedLoraLayers(input.lora, input.closedForm), options, {
    family: input.family,
    packSha256: input.packSha256,
    method,
    conceptSets: JSON.parse(JSON.stringify(recipe.concepts)) as JsonValue,
    hyperparameters: JSON.parse(JSON.stringify({ fineTune, closedForm: input.closedForm ? recipe.closedForm : null, prompts: recipe.prompts, export: options })) as JsonValue,
    seed: fineTune?.seed ?? 0,
    name: `erase-${conceptSlug(recipe)}-${fineTune?.objective ?? 'trained'}`,
    extraMetadata: { lethe_recipe: serializeRecipe(recipe) },
  });
}

