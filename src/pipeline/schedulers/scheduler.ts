/** The samplers Lethe runs; each follows its diffusers namesake step for step. */
export const SCHEDULER_KINDS = ['ddim', 'euler_a', 'dpmpp_2m'] as const;
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];

/**
 * Draws one fresh standard-normal tensor the size of the sample. Called only when a step
 * actually adds noise, so deterministic samplers never consume randomness.
 */
export type NoiseDraw = () => Float32Array;

/**
 * A configured sampling schedule. Step indices run 0 .. timesteps.length - 1 in order; the
 * UNet is evaluated at `timesteps[i]` on `scaleModelInput(x, i)`, then `step` gives the next x.
 */
export interface Scheduler {
  readonly kind: SchedulerKind;
  /** Training timesteps the UNet sees, highest first (non-integer for Euler with linspace spacing). */
  readonly timesteps: readonly number[];
  /** Multiply unit-variance initial noise by this before the first step. */
  readonly initNoiseSigma: number;
  /** True when `step` adds fresh noise (DDIM with eta > 0, Euler ancestral): pass a NoiseDraw. */
  readonly stochastic: boolean;
  /** The UNet input for step `stepIndex`; may return `sample` itself when no scaling applies. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** The sample after step `stepIndex`, from the UNet output on that step. Never mutates its inputs. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: NoiseDraw): Float32Array;
}
