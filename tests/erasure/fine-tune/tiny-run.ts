/**
 * A fine-tuning run on the forged tiny-sd15 UNet (WGSL executor pieces, the pack's attn2 weights
 * and scheduler) with the seeded stand-in text encoder: what the loop tests train on, at 8x8
 * latents and a few steps so that a file stays well under a minute on SwiftShader.
 */
import type { GpuContext } from '../../../src/gpu/context.ts';
import { defineConceptSet } from '../../../src/erasure/concept-sets.ts';
import { fineTuneDefaults, type FineTuneOptions } from '../../../src/erasure/fine-tune/fine-tune-options.ts';
import type { FineTuneModel } from '../../../src/erasure/fine-tune/fine-tune-loop.ts';
import { LETHE_VERSION, RECIPE_FORMAT, serializeRecipe, type ErasureRecipe } from '../../../src/erasure/recipe.ts';
import { parseSchedulerConfig } from '../../../src/pipeline/schedulers/scheduler-config.ts';
import { loadCrossAttentionWeights } from '../../../src/pipeline/unet/cross-attention-weights.ts';
import { sha256Hex } from '../../../src/util/sha256.ts';
import { fakeTextEncoder } from '../fake-text-encoder.ts';
import { tinyPack } from '../../training/tiny-pieces.ts';

export async function tinyFineTuneModel(ctx: GpuContext): Promise<FineTuneModel & { release(): void; hostWeights: { toK: Float32Array; toV: Float32Array }[] }> {
  const { manifest, read } = await tinyPack();
  const weights = await loadCrossAttentionWeights(ctx, { manifest, bytes: read });
  const encoder = fakeTextEncoder(manifest.dims.textHidden);
  const schedulerConfig = parseSchedulerConfig(JSON.parse(new TextDecoder().decode(await read(manifest.scheduler.config))), 'ddim');
  return {
    manifest,
    read,
    weights,
    hostWeights: weights.host,
    schedulerConfig,
    async encode(prompts) {
      const values = new Float32Array(prompts.length * manifest.dims.textTokens * manifest.dims.textHidden);
      prompts.forEach((p, i) => values.set(encoder.embed(p), i * manifest.dims.textTokens * manifest.dims.textHidden));
      return ctx.upload(values, [prompts.length, manifest.dims.textTokens, manifest.dims.textHidden]);
    },
    release() {
      for (const t of [...weights.toK, ...weights.toV]) t.release();
    },
  };
}

export function tinyRecipe(fineTune: Partial<FineTuneOptions> & Pick<FineTuneOptions, 'objective'>): ErasureRecipe & { fineTune: FineTuneOptions } {
  return {
    format: RECIPE_FORMAT,
    version: 1,
    lethe: LETHE_VERSION,
    pack: { sha256: 'ab'.repeat(32), family: 'tiny-sd15' },
    concepts: defineConceptSet({
      kind: 'object',
      targets: [{ concept: 'cat', anchor: 'animal', corefs: [{ concept: 'kitten', weight: 1 }, { concept: 'tabby', weight: 0.6 }] }],
      retains: [{ concept: 'dog', weight: 0.8 }],
    }),
    method: 'uce',
    prompts: { templates: ['a photo of {}', '{}'], tokens: 'subject' },
    realera: null,
    closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 0.1, solver: 'woodbury' },
    fineTune: { ...fineTuneDefaults(fineTune.objective, 8), rank: 2, alpha: 2, learningRate: 1e-3, steps: 3, latentSteps: 2, seed: 5, ...fineTune },
  };
}

export async function recipeHash(recipe: ErasureRecipe): Promise<string> {
  return sha256Hex(new TextEncoder().encode(serializeRecipe(recipe)));
}
