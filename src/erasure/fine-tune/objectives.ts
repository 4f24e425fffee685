import { crce } from './crce.ts';
import { esdX } from './esd-x.ts';
import type { FineTuneObjective } from './fine-tune-options.ts';
import type { Objective } from './objective.ts';
import { realEraAlignment } from './realera-alignment.ts';

/** The objective a recipe names. */
export function objectiveFor(name: FineTuneObjective): Objective {
  switch (name) {
    case 'realera':
      return realEraAlignment;
    case 'esd-x':
      return esdX;
    case 'crce':
      return crce;
  }
}
