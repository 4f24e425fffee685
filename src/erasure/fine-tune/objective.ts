/**
 * An objective plans each training step as loss terms on training latents (loss-terms.ts). The
 * three objectives share this context and the loop; each lives in its own module.
 */
import type { ConceptSet } from '../concept-sets.ts';
import type { RealEraOptions } from '../realera.ts';
import type { FineTuneOptions } from './fine-tune-options.ts';
import type { StepPlan } from './loss-terms.ts';

export interface ObjectiveContext {
  readonly options: FineTuneOptions;
  readonly concepts: ConceptSet;
  /** The recipe's prompt templates, each with one "{}". */
  readonly templates: readonly string[];
  /** RealEra's neighbor window (the recipe's, or the defaults). */
  readonly realera: RealEraOptions;
  /** The noise schedule's length (1000 for SD): RealEra draws t from [0, this). */
  readonly numTrainTimesteps: number;
  /** The flattened text embedding [tokens x width] of a prompt (RealEra perturbs it). */
  embed(text: string): Promise<Float32Array>;
}

export interface Objective {
  /** Step `step`'s plan: a pure function of the context and the step (randomness from stepRandom(seed, step)). */
  planStep(step: number, context: ObjectiveContext): Promise<StepPlan>;
}
