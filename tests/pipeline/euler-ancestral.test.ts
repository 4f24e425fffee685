import { describe, expect, test } from 'vitest';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import { samplerStepNoise } from '../../src/pipeline/noise.ts';
import { InputError } from '../../src/util/errors.ts';
import { SD15_CONFIG, SD21_CONFIG, maxScaledDiff, randomArray, referenceAlphasCumprod, sigmaAt } from './scheduler-reference.ts';

const alphas = referenceAlphasCumprod('scaled_linear', 0.00085, 0.012, 1000);
const LENGTH = 4 * 8 * 5;

/**
 * k-diffusion's sample_euler_ancestral (eta 1) in the variance-exploding view: the denoiser
 * D(x; sigma) from an eps model (x - sigma eps) or a v model (c_skip x + c_out v,
 * c_skip = 1/(sigma^2+1), c_out = -sigma/sqrt(sigma^2+1)); the step goes to sigma_down along
 * d = (x - D)/sigma and adds sigma_up z.
 */
function referenceEulerAncestralStep(x: number, out: number, sigma: number, sigmaNext: number, z: number, v: boolean): number {
  const denoised = v ? x / (sigma ** 2 + 1) - (sigma / Math.sqrt(sigma ** 2 + 1)) * out : x - sigma * out;
  const sigmaUp = Math.min(sigmaNext, Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2));
  const sigmaDown = Math.sqrt(sigmaNext ** 2 - sigmaUp ** 2);
  return x + ((x - denoised) / sigma) * (sigmaDown - sigma) + z * sigmaUp;
}

describe('Euler ancestral step', () => {
  test.each([
    ['epsilon', SD15_CONFIG],
    ['v_prediction', SD21_CONFIG],
  ] as const)('%s: steps 0, 7 and the last of 20 match k-diffusion', (prediction, config) => {
    const scheduler = createScheduler('euler_a', config, 20);
    const x = randomArray(31, LENGTH, 9);
    const modelOutput = randomArray(32, LENGTH);
    const z = randomArray(33, LENGTH);
    for (const index of [0, 7, 19]) {
      const sigma = sigmaAt(alphas, scheduler.timesteps[index]);
      const sigmaNext = index === 19 ? 0 : sigmaAt(alphas, scheduler.timesteps[index + 1]);
      let draws = 0;
      const got = scheduler.step(modelOutput, index, x, () => (draws++, z));
      expect(draws).toBe(index === 19 ? 0 : 1); // sigma_up is 0 on the way to sigma 0
      const want = Array.from(x, (xi, i) => referenceEulerAncestralStep(xi, modelOutput[i], sigma, sigmaNext, z[i], prediction === 'v_prediction'));
      expect(maxScaledDiff(got, want)).toBeLessThan(2e-6);
    }
  });

  test.each([
    ['epsilon', SD15_CONFIG],
    ['v_prediction', SD21_CONFIG],
  ] as const)('%s: an exact model lands on x0, whatever noise the steps add', (prediction, config) => {
    const scheduler = createScheduler('euler_a', config, 15);
    const x0 = randomArray(41, LENGTH, 0.7);
    const init = samplerStepNoise(5, 0, LENGTH);
    let sample: Float32Array = Float32Array.from(init, (v, i) => x0[i] + v * scheduler.initNoiseSigma);
    scheduler.timesteps.forEach((t, index) => {
      const input = scheduler.scaleModelInput(sample, index);
      const sigma = sigmaAt(alphas, t);
      // The exact model sees the scaled input x / sqrt(sigma^2 + 1) and knows x0.
      const oracle = Float32Array.from(input, (u, i) => {
        const eps = (u * Math.sqrt(sigma ** 2 + 1) - x0[i]) / sigma;
        const a = 1 / (sigma ** 2 + 1);
        return prediction === 'epsilon' ? eps : Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0[i];
      });
      sample = scheduler.step(oracle, index, sample, () => samplerStepNoise(5, index + 1, LENGTH));
    });
    expect(maxScaledDiff(sample, x0)).toBeLessThan(1e-5);
  });

  test('a step that adds noise needs a noise source', () => {
    const scheduler = createScheduler('euler_a', SD15_CONFIG, 10);
    expect(scheduler.stochastic).toBe(true);
    const x = randomArray(1, 8);
    expect(() => scheduler.step(x, 0, x)).toThrow(InputError);
    expect(() => scheduler.step(x, 0, x)).toThrow(/Euler ancestral adds noise on this step/);
    expect(() => scheduler.step(x, 9, x)).not.toThrow();
  });
});
