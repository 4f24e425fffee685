/**
 * Training latents z_t, as each method defines them, from the frozen original model and the
 * recipe's seed:
 * - ESD / CRCE ('denoised'): a seeded latent denoised with the erase prompt (DDIM, classifier-free
 *   guidance `latentGuidance`, `latentSteps` steps) for `stepsTaken` of the steps; t is the step
 *   reached (the timestep the next DDIM step would evaluate).
 * - RealEra ('anchor-image'): the final latent x_0 of the image the anchor prompt generates from
 *   the recipe's seed (made once per anchor prompt and kept), noised to t with fresh noise:
 *   z_t = sqrt(a_t) x_0 + sqrt(1 - a_t) noise.
 * Noise comes from the portable Philox stream (pipeline/noise.ts), indexed by step and batch
 * position, so a resumed run draws the same latents.
 */
import { applyGuidance } from '../../pipeline/generate.ts';
import { gaussianNoise, initialLatents, NoiseStream } from '../../pipeline/noise.ts';
import { DdimScheduler } from '../../pipeline/schedulers/ddim.ts';
import { addNoise } from '../../pipeline/schedulers/forward-process.ts';
import { alphasCumprod } from '../../pipeline/schedulers/noise-schedule.ts';
import type { SchedulerConfig } from '../../pipeline/schedulers/scheduler-config.ts';
import { InputError } from '../../util/errors.ts';
import type { Conditioning, LatentPlan } from './loss-terms.ts';
import { text } from './loss-terms.ts';

/** The frozen original UNet: eps_orig(latents, t, cond) for one latent [1, c, h, w]. */
export interface FrozenDenoiser {
  predict(latents: Float32Array, timestep: number, cond: Conditioning): Promise<Float32Array>;
}

export interface LatentSettings {
  readonly seed: number;
  readonly latentSteps: number;
  readonly latentGuidance: number;
  /** [1, channels, height, width]. */
  readonly shape: readonly [number, number, number, number];
}

export interface TrainingLatent {
  readonly latents: Float32Array;
  readonly timestep: number;
}

/** Makes z_t for latent plans; keeps each anchor prompt's x_0. */
export class TrainingLatents {
  private readonly anchorImages = new Map<string, Promise<Float32Array>>();
  private readonly alphas: Float64Array;

  constructor(
    private readonly denoiser: FrozenDenoiser,
    private readonly config: SchedulerConfig,
    private readonly settings: LatentSettings,
  ) {
    this.alphas = alphasCumprod(config);
  }

  /** z_t and t for sample `index` of step `step` (index = step * batch + position). */
  async make(plan: LatentPlan, index: number): Promise<TrainingLatent> {
    const size = this.settings.shape.reduce((a, b) => a * b, 1);
    if (plan.kind === 'denoised') {
      // Even stream indices start latents, odd ones noise anchor images: the two never share a draw.
      const start = gaussianNoise(this.settings.seed, NoiseStream.training, 2 * index, size);
      return this.denoise(start, plan.prompt, plan.stepsTaken);
    }
    let image = this.anchorImages.get(plan.prompt);
    if (!image) {
      const start = initialLatents(this.settings.seed, this.settings.shape);
      image = this.denoise(start, plan.prompt, this.settings.latentSteps).then((r) => r.latents);
      this.anchorImages.set(plan.prompt, image);
      image.catch(() => this.anchorImages.delete(plan.prompt));
    }
    const noise = gaussianNoise(this.settings.seed, NoiseStream.training, 2 * index + 1, size);
    return { latents: addNoise(await image, noise, plan.timestep, this.alphas), timestep: plan.timestep };
  }

  /**
   * `stepsTaken` DDIM steps from `start` with `prompt` under guidance; returns the latent and the
   * timestep it has reached (with all steps taken: x_0 and timestep 0).
   */
  private async denoise(start: Float32Array, prompt: string, stepsTaken: number): Promise<TrainingLatent> {
    const { latentSteps, latentGuidance } = this.settings;
    if (!Number.isInteger(stepsTaken) || stepsTaken < 0 || stepsTaken > latentSteps) throw new InputError(`training latents: stepsTaken: expected an integer in [0, ${latentSteps}], got ${stepsTaken}`);
    const scheduler = new DdimScheduler(this.config, latentSteps);
    let sample = start;
    for (let i = 0; i < stepsTaken; i++) {
      const t = scheduler.timesteps[i];
      const cond = await this.denoiser.predict(sample, t, text(prompt));
      const guided = latentGuidance === 1 ? cond : applyGuidance(await this.denoiser.predict(sample, t, text('')), cond, latentGuidance);
      sample = scheduler.step(guided, i, sample);
    }
    return { latents: sample, timestep: stepsTaken < latentSteps ? scheduler.timesteps[stepsTaken] : 0 };
  }
}
