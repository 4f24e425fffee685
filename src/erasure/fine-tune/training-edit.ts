/**
 * Between a fine-tuning run and the edit the studio applies: the closed-form factors read back
 * from the GPU (the start of a RealEra run), a recipe checked for a fineTune section, and the
 * combined factors uploaded as the per-layer deltas generation adds to K and V.
 */
import type { GpuContext } from '../../gpu/context.ts';
import type { KvDeltas } from '../../pipeline/unet/kv-projection.ts';
import { InputError } from '../../util/errors.ts';
import type { LoraExportLayer } from '../lora-export.ts';
import { parseRecipe, type ErasureRecipe } from '../recipe.ts';
import type { FineTuneOptions } from './fine-tune-options.ts';
import type { ClosedFormFactors, HostLowRank } from './trained-lora.ts';

/** A recipe that must describe a fine-tuning run. */
export function parseTrainingRecipe(json: string, file: string): ErasureRecipe & { readonly fineTune: FineTuneOptions } {
  const recipe = parseRecipe(json, file);
  if (!recipe.fineTune) throw new InputError(`${file}: fineTune: missing; a training recipe says which objective, steps, learning rate, rank and seed to train with (lethe train --objective ... adds it)`);
  return recipe as ErasureRecipe & { readonly fineTune: FineTuneOptions };
}

/** The closed-form edit's factors on the CPU, per layer (up = W U, down = V^T, scale 1). */
export async function readClosedFormFactors(ctx: GpuContext, deltas: KvDeltas, layerCount: number): Promise<ClosedFormFactors> {
  const read = async (map: KvDeltas['toK'], i: number): Promise<HostLowRank> => {
    const delta = map.get(i);
    if (!delta) throw new InputError(`closed-form edit: layer ${i} has no factors`);
    if (delta.scale !== 1) throw new InputError(`closed-form edit: layer ${i} has scale ${delta.scale}, expected 1`);
    return { up: await ctx.read(delta.up), down: await ctx.read(delta.down), rank: delta.down.shape[0] };
  };
  const toK: HostLowRank[] = [];
  const toV: HostLowRank[] = [];
  for (let i = 0; i < layerCount; i++) {
    toK.push(await read(deltas.toK, i));
    toV.push(await read(deltas.toV, i));
  }
  return { toK, toV };
}

/** The combined factors as generation's deltas (scale 1: exactly the numbers an export writes). */
export function uploadCombined(ctx: GpuContext, layers: readonly LoraExportLayer[], layerIndex: (module: string) => number): KvDeltas {
  const deltas: KvDeltas = { toK: new Map(), toV: new Map() };
  for (const layer of layers) {
    const target = layer.projection === 'to_k' ? deltas.toK : deltas.toV;
    target.set(layerIndex(layer.module), { up: ctx.upload(layer.up, [layer.outFeatures, layer.rank]), down: ctx.upload(layer.down, [layer.rank, layer.inFeatures]), scale: layer.scale ?? 1 });
  }
  return deltas;
}
