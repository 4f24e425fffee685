/** A small closed-form edit over a pack shaped like SD 1.x (16 blocks, SD module names), for the LoRA export/import tests. */
import { defineConceptSet } from '../../src/erasure/concept-sets.ts';
import { solveEditOperator, type EditOperator } from '../../src/erasure/closed-form.ts';
import type { HostProjections } from '../../src/erasure/lora-export.ts';
import { PROMPT_TEMPLATES } from '../../src/erasure/prompt-templates.ts';
import { REALERA_DEFAULTS } from '../../src/erasure/realera.ts';
import { LETHE_VERSION, RECIPE_FORMAT, type ErasureRecipe } from '../../src/erasure/recipe.ts';
import type { CrossAttentionLayer, PackFamily } from '../../src/model/manifest.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { SD_TRANSFORMER_BLOCKS } from '../formats/lora-fixtures.ts';
import { matrix, multiply, type Matrix } from './reference-linalg.ts';

export const PACK_SHA = 'cd'.repeat(32);

export interface EditFixture {
  readonly operator: EditOperator;
  readonly layers: CrossAttentionLayer[];
  readonly host: HostProjections[];
  readonly recipe: ErasureRecipe;
  readonly family: PackFamily;
}

/** SD 1.5's block widths (320/640/1280) divided by `shrink`. */
export function blockWidths(shrink: number): number[] {
  return [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320].map((w) => w / shrink);
}

export function crossAttentionLayers(widths: readonly number[], d: number): CrossAttentionLayer[] {
  return SD_TRANSFORMER_BLOCKS.map((block, index) => ({
    index,
    module: `${block}.attn2`,
    toK: { name: `${block}.attn2.to_k.weight`, shape: [widths[index], d] },
    toV: { name: `${block}.attn2.to_v.weight`, shape: [widths[index], d] },
    heads: 8,
    piece: 'unet',
    kInput: `k_${index}`,
    vInput: `v_${index}`,
  }));
}

export function sampleRecipe(family: PackFamily = 'sd15', concept = 'Van Gogh'): ErasureRecipe {
  return {
    format: RECIPE_FORMAT,
    version: 1,
    lethe: LETHE_VERSION,
    pack: { sha256: PACK_SHA, family },
    concepts: defineConceptSet({ kind: 'style', targets: [{ concept, anchor: 'a painter', corefs: ['Vincent van Gogh'] }], retains: ['Monet'], preserve: ['Picasso'] }),
    method: 'realera',
    prompts: { templates: [...PROMPT_TEMPLATES.style], tokens: 'subject' },
    realera: { options: { ...REALERA_DEFAULTS }, seed: 77 },
    closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 0.1, solver: 'cholesky' },
  };
}

export function editFixture(options: { d?: number; nErase?: number; shrink?: number; seed?: number; family?: PackFamily } = {}): EditFixture {
  const { d = 24, nErase = 5, shrink = 40, seed = 1, family = 'sd15' } = options;
  const random = new SeededRandom(seed);
  const operator = solveEditOperator(
    {
      width: d,
      lambda: 0.5,
      erase: Array.from({ length: nErase }, () => ({ input: random.normalArray64(d), target: random.normalArray64(d) })),
      preserve: Array.from({ length: 7 }, () => ({ input: random.normalArray64(d) })),
    },
    { solver: 'cholesky' },
  );
  const widths = blockWidths(shrink);
  const layers = crossAttentionLayers(widths, d);
  const host = widths.map((out) => ({ toK: random.normalArray(out * d, 0.1), toV: random.normalArray(out * d, 0.1) }));
  return { operator, layers, host, recipe: sampleRecipe(family), family };
}

/** The exact delta W (M - I) = (W U) V^T in float64 by plain products (independent of exactLora). */
export function exactDelta(operator: EditOperator, weight: Float32Array, out: number): Matrix {
  const { width: d, rank } = operator;
  const wu = multiply(matrix(out, d, weight), matrix(d, rank, operator.u));
  return multiply(wu, matrix(rank, d, operator.vt));
}
