/**
 * CRCE (coreference-retention concept erasure) on the ESD-x backbone:
 *   L = L_esd(c) + alpha * mean_i w_i L_esd(coref_i) + beta * mean_j w_j ||eps(z_t, r_j, t) - eps_orig(z_t, r_j, t)||^2
 * with M corefs of the drawn target and N retains of the concept set sampled (without
 * replacement) per step, each written with the target's template, and w the concept's certainty
 * weight (Very High 1.0 ... Very Low 0.2: the concept set's weights). All terms share the z_t
 * made with the target's prompt.
 */
import { fillTemplate } from '../prompt-templates.ts';
import { planEsdSample } from './esd-x.ts';
import { sampleWithoutReplacement, stepRandom, text, type LatentSample, type LossTerm, type StepPlan } from './loss-terms.ts';
import type { Objective, ObjectiveContext } from './objective.ts';

export const crce: Objective = {
  async planStep(step: number, context: ObjectiveContext): Promise<StepPlan> {
    const { options, concepts } = context;
    const random = stepRandom(options.seed, step);
    const samples: LatentSample[] = [];
    for (let b = 0; b < options.batch; b++) {
      const { sample, template, targetIndex } = planEsdSample(random, context);
      const corefs = concepts.targets[targetIndex].corefs;
      const corefPicks = sampleWithoutReplacement(random, corefs.length, options.corefsPerStep);
      const retainPicks = sampleWithoutReplacement(random, concepts.retains.length, options.retainsPerStep);
      const terms: LossTerm[] = [...sample.terms];
      for (const i of corefPicks) {
        const prompt = fillTemplate(template, corefs[i].concept).text;
        terms.push({ group: 'coref', weight: (options.corefWeight * corefs[i].weight) / corefPicks.length, input: text(prompt), target: { kind: 'negative-guidance', cond: text(prompt), eta: options.eta } });
      }
      for (const j of retainPicks) {
        const prompt = fillTemplate(template, concepts.retains[j].concept).text;
        terms.push({ group: 'retain', weight: (options.retainWeight * concepts.retains[j].weight) / retainPicks.length, input: text(prompt), target: { kind: 'original', cond: text(prompt) } });
      }
      samples.push({ latent: sample.latent, terms: terms.filter((t) => t.weight > 0) });
    }
    return { step, samples };
  },
};
