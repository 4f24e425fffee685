/**
 * RealEra's prediction noise alignment (Liu et al., section 4.3, eqs. 8-9, Algorithm 1 lines
 * 25-31): a LoRA on top of the closed-form edit, trained so that the erase concept's noise
 * prediction matches the original model's for the anchor, on z_t from the image the anchor
 * prompt generates.
 *   odd steps (1st, 3rd, ...):  ||eps(z_t, t, p_c) - eps_orig(z_t, t, p_c*)||^2              (8)
 *   even steps:                 ||eps(z_t, t, p'_c) - eps_orig(z_t, t, p_c*)||^2
 *                             + ||eps(z_t, t, p''_c) - eps_orig(z_t, t, p''_c)||^2            (9)
 * p'_c is a neighbor of p_c's embedding and p''_c a beyond-concept sample, redrawn every step
 * ("resample as step 2~23", line 28) with the recipe's RealEra window (one of each per step).
 * The pair (p_c, p_c*) is a target or coref with its anchor, in a template, drawn per step; t is
 * uniform over the training timesteps.
 *
 * Even steps also keep `retainsPerStep` of the concept set's retained concepts where they are
 * (+ beta * mean_j w_j ||eps(z_t, t, r_j) - eps_orig(z_t, t, r_j)||^2, in the pair's template):
 * eq. 7's preserved set P holds the concepts to keep as well as the beyond-concept samples, and
 * Algorithm 1's alignment (lines 25-31) draws only the latter. Without them, alignment on the
 * concept world pulled "horse" from 0.85 to 0.67 while erasing "cat" (the perturbations are
 * isotropic; a close class is not where they land). retainsPerStep 0 is Algorithm 1 exactly.
 */
import { erasurePairs } from '../concept-sets.ts';
import { fillTemplate } from '../prompt-templates.ts';
import { radiusScaleForEncoder, REALERA_DEFAULTS, resolveRealEraOptions, sampleRealEra, type RealEraOptions } from '../realera.ts';
import type { ErasureRecipe } from '../recipe.ts';
import { pick, sampleWithoutReplacement, stepRandom, text, type LatentSample, type LossTerm, type StepPlan } from './loss-terms.ts';
import type { Objective, ObjectiveContext } from './objective.ts';

export const realEraAlignment: Objective = {
  async planStep(step: number, context: ObjectiveContext): Promise<StepPlan> {
    const { options, concepts, templates } = context;
    const random = stepRandom(options.seed, step);
    const pairs = erasurePairs(concepts);
    const samples: LatentSample[] = [];
    for (let b = 0; b < options.batch; b++) {
      const pair = pairs[pick(random, pairs.length)];
      const template = templates[pick(random, templates.length)];
      const erase = fillTemplate(template, pair.concept).text;
      const anchor = fillTemplate(template, pair.anchor).text;
      const timestep = pick(random, context.numTrainTimesteps);
      const latent = { kind: 'anchor-image', prompt: anchor, timestep } as const;
      // Step 0 is the paper's first (odd) step.
      if (step % 2 === 0) {
        samples.push({ latent, terms: [{ group: 'erase', weight: 1, input: text(erase), target: { kind: 'original', cond: text(anchor) } }] });
        continue;
      }
      const drawn = sampleRealEra(await context.embed(erase), await context.embed(anchor), random, { ...context.realera, m: 1, n: 1 });
      const neighbor = Float32Array.from(drawn.neighbors[0].erase);
      const beyond = { kind: 'embedding', label: `beyond(${JSON.stringify(erase)}, r=${drawn.beyond[0].radius.toFixed(2)})`, values: Float32Array.from(drawn.beyond[0].embedding) } as const;
      const retainPicks = sampleWithoutReplacement(random, concepts.retains.length, options.retainsPerStep);
      const retains: LossTerm[] = retainPicks.map((j) => {
        const prompt = fillTemplate(template, concepts.retains[j].concept).text;
        return { group: 'retain', weight: (options.retainWeight * concepts.retains[j].weight) / retainPicks.length, input: text(prompt), target: { kind: 'original', cond: text(prompt) } };
      });
      samples.push({
        latent,
        terms: [
          { group: 'neighbor', weight: 1, input: { kind: 'embedding', label: `neighbor(${JSON.stringify(erase)}, r=${drawn.neighbors[0].radius.toFixed(2)})`, values: neighbor }, target: { kind: 'original', cond: text(anchor) } },
          { group: 'beyond', weight: 1, input: beyond, target: { kind: 'original', cond: beyond } },
          ...retains.filter((t) => t.weight > 0),
        ],
      });
    }
    return { step, samples };
  },
};

/**
 * RealEra's neighbor window: the recipe's (a RealEra closed form stores the radiusScale it measured
 * on the pack's encoder), else the paper's defaults scaled to this encoder the way the closed form
 * scales them: radiusScaleForEncoder(mean norm of the erase prompts' flattened embeddings, every
 * erase pair in every template). Unscaled, the paper's SD 1.x radii (d1 400, d2 800, for a norm
 * of about sqrt(77 x 768)) put the beyond-concept samples of a smaller encoder (the concept
 * world's 77 x 64) far outside its embeddings: on the concept world, step 2's beyond term of a
 * UCE + alignment run fell from 0.93 to 0.17 with the scale.
 */
export async function realEraWindow(recipe: ErasureRecipe, embed: (prompt: string) => Promise<Float32Array>): Promise<RealEraOptions> {
  if (recipe.realera) return recipe.realera.options;
  const prompts = erasurePairs(recipe.concepts).flatMap((pair) => recipe.prompts.templates.map((template) => fillTemplate(template, pair.concept).text));
  let total = 0;
  for (const prompt of prompts) {
    const values = await embed(prompt);
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
    total += Math.sqrt(sum);
  }
  return resolveRealEraOptions({ ...REALERA_DEFAULTS, radiusScale: radiusScaleForEncoder(total / prompts.length) });
}
