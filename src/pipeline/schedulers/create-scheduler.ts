import { InputError } from '../../util/errors.ts';
import { DdimScheduler } from './ddim.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { EulerAncestralScheduler } from './euler-ancestral.ts';
import type { Scheduler, SchedulerKind } from './scheduler.ts';
import { parseSchedulerConfig, type SchedulerConfig } from './scheduler-config.ts';

export interface SchedulerOptions {
  /** DDIM only: 0 is deterministic DDIM, 1 matches DDPM's posterior variance. */
  readonly eta?: number;
}

/**
 * A sampler of `kind` over `steps` steps, from a scheduler_config.json object (validated here)
 * or an already parsed config of the same kind.
 */
export function createScheduler(kind: SchedulerKind, config: unknown, steps: number, options: SchedulerOptions = {}): Scheduler {
  const parsed = isParsed(config) ? config : parseSchedulerConfig(config, kind);
  if (parsed.kind !== kind) {
    throw new InputError(`scheduler config was parsed for ${parsed.kind}, not ${kind}: its defaults differ, parse it again`);
  }
  if (options.eta !== undefined && options.eta !== 0 && kind !== 'ddim') {
    throw new InputError(`eta: only DDIM takes eta, got eta ${options.eta} for ${kind}`);
  }
  switch (kind) {
    case 'ddim':
      return new DdimScheduler(parsed, steps, options.eta ?? 0);
    case 'euler_a':
      return new EulerAncestralScheduler(parsed, steps);
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(parsed, steps);
  }
}

function isParsed(config: unknown): config is SchedulerConfig {
  return typeof config === 'object' && config !== null && 'kind' in config && 'numTrainTimesteps' in config;
}
