import { InputError, ShapeError } from '../../util/errors.ts';

/*
 * The forward process q(x_t | x_0) = N(sqrt(a_t) x_0, (1 - a_t) I), a_t = alphas_cumprod[t],
 * and the targets a denoiser is trained to predict at x_t.
 */

/** x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise (diffusers' add_noise). */
export function addNoise(x0: Float32Array, noise: Float32Array, timestep: number, alphasCumprod: Float64Array): Float32Array {
  const alpha = alphaAt(alphasCumprod, timestep);
  checkSameLength(x0, noise);
  const signal = Math.sqrt(alpha);
  const spread = Math.sqrt(1 - alpha);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = signal * x0[i] + spread * noise[i];
  return out;
}

/** v = sqrt(a_t) noise - sqrt(1 - a_t) x0: the v_prediction target (diffusers' get_velocity). */
export function velocity(x0: Float32Array, noise: Float32Array, timestep: number, alphasCumprod: Float64Array): Float32Array {
  const alpha = alphaAt(alphasCumprod, timestep);
  checkSameLength(x0, noise);
  const signal = Math.sqrt(alpha);
  const spread = Math.sqrt(1 - alpha);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = signal * noise[i] - spread * x0[i];
  return out;
}

function alphaAt(alphasCumprod: Float64Array, timestep: number): number {
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= alphasCumprod.length) {
    throw new InputError(`timestep: got ${timestep}, expected an integer in [0, ${alphasCumprod.length - 1}]`);
  }
  return alphasCumprod[timestep];
}

function checkSameLength(x0: Float32Array, noise: Float32Array): void {
  if (x0.length !== noise.length) throw new ShapeError(`x0 has ${x0.length} values, noise has ${noise.length}`);
}
