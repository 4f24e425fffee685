/**
 * ESD-x (Gandikota et al. 2023, the cross-attention variant): the trained prediction for the
 * erase prompt c is pulled towards the original model's prediction guided away from c,
 *   eps(z_t, c, t) -> eps_orig(z_t, "", t) - eta (eps_orig(z_t, c, t) - eps_orig(z_t, "", t)),
 * on a z_t made by denoising a seeded latent with c (guidance 3) for a random number of the DDIM
 * steps; t is the step reached. Each step draws one target of the concept set and one template.
 */
import { fillTemplate } from '../prompt-templates.ts';
import { pick, stepRandom, text, type LatentSample, type StepPlan } from './loss-terms.ts';
import type { Objective, ObjectiveContext } from './objective.ts';
import type { SeededRandom } from '../../util/random.ts';

/** One ESD-x sample: the erase prompt (drawn), its latent plan and the negative-guidance term. */
export function planEsdSample(random: SeededRandom, context: ObjectiveContext): { sample: LatentSample; template: string; targetIndex: number } {
  const { concepts, templates, options } = context;
  const targetIndex = pick(random, concepts.targets.length);
  const template = templates[pick(random, templates.length)];
  const prompt = fillTemplate(template, concepts.targets[targetIndex].concept).text;
  const stepsTaken = pick(random, options.latentSteps);
  return {
    sample: {
      latent: { kind: 'denoised', prompt, stepsTaken },
      terms: [{ group: 'erase', weight: 1, input: text(prompt), target: { kind: 'negative-guidance', cond: text(prompt), eta: options.eta } }],
    },
    template,
    targetIndex,
  };
}

export const esdX: Objective = {
  async planStep(step: number, context: ObjectiveContext): Promise<StepPlan> {
    const random = stepRandom(context.options.seed, step);
    const samples = Array.from({ length: context.options.batch }, () => planEsdSample(random, context).sample);
    return { step, samples };
  },
};
