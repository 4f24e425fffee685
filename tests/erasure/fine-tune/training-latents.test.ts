/**
 * Training latents from a CPU stand-in denoiser (eps = 0.1 x + a per-prompt offset), checked
 * against a float64 DDIM written here from eq. 12 (eta 0) and diffusers' "leading" spacing for SD
 * 1.5's scaled-linear schedule: ESD latents are the seeded start denoised with guidance for the
 * planned number of steps; RealEra's are the anchor image's x_0 (made once) noised to t.
 */
import { describe, expect, test } from 'vitest';
import { TrainingLatents, type FrozenDenoiser } from '../../../src/erasure/fine-tune/training-latents.ts';
import type { Conditioning } from '../../../src/erasure/fine-tune/loss-terms.ts';
import { gaussianNoise, initialLatents, NoiseStream } from '../../../src/pipeline/noise.ts';
import { parseSchedulerConfig } from '../../../src/pipeline/schedulers/scheduler-config.ts';
import { SD15_CONFIG } from '../../pipeline/scheduler-reference.ts';

const config = parseSchedulerConfig(SD15_CONFIG, 'ddim');
const shape = [1, 4, 3, 2] as const;
const size = 24;

/** alphas_cumprod of scaled_linear betas (sqrt-linear in [sqrt(0.00085), sqrt(0.012)]), float64. */
function alphaBar(t: number): number {
  let product = 1;
  const a = Math.sqrt(0.00085);
  const b = Math.sqrt(0.012);
  for (let i = 0; i <= t; i++) product *= 1 - (a + ((b - a) * i) / 999) ** 2;
  return product;
}

function standIn(): FrozenDenoiser & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async predict(latents: Float32Array, timestep: number, cond: Conditioning) {
      const key = cond.kind === 'text' ? cond.text : cond.label;
      calls.push(`${key}@${timestep}`);
      const offset = key.length * 0.01;
      return latents.map((x, i) => 0.1 * x + offset * ((i % 3) - 1));
    },
  };
}

describe('training latents', () => {
  test('ESD: the seeded start denoised with guidance for stepsTaken DDIM steps; t is the step reached', async () => {
    const denoiser = standIn();
    const latents = new TrainingLatents(denoiser, config, { seed: 3, latentSteps: 10, latentGuidance: 3, shape });
    const made = await latents.make({ kind: 'denoised', prompt: 'a photo of cat', stepsTaken: 4 }, 7);
    // leading spacing, steps_offset 1: 901, 801, ..., 1; after 4 steps the next is 501.
    expect(made.timestep).toBe(501);
    let x = Float64Array.from(gaussianNoise(3, NoiseStream.training, 14, size));
    for (let i = 0; i < 4; i++) {
      const t = 901 - 100 * i;
      const prev = t - 100;
      const eps = (prompt: string) => x.map((v, j) => 0.1 * Math.fround(v) + prompt.length * 0.01 * ((j % 3) - 1));
      const c = eps('a photo of cat');
      const u = eps('');
      const guided = c.map((cv, j) => u[j] + 3 * (cv - u[j]));
      const [a, ap] = [alphaBar(t), alphaBar(prev)];
      x = x.map((v, j) => {
        const x0 = (v - Math.sqrt(1 - a) * guided[j]) / Math.sqrt(a);
        return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * guided[j];
      });
    }
    let worst = 0;
    for (let j = 0; j < size; j++) worst = Math.max(worst, Math.abs(made.latents[j] - x[j]) / (Math.abs(x[j]) + 1e-3));
    expect(worst).toBeLessThan(1e-4);
    expect(denoiser.calls).toEqual([901, 801, 701, 601].flatMap((t) => [`a photo of cat@${t}`, `@${t}`]));
    // stepsTaken 0: the start itself at the first timestep, no UNet call.
    const start = await latents.make({ kind: 'denoised', prompt: 'x', stepsTaken: 0 }, 2);
    expect(start.timestep).toBe(901);
    expect(start.latents).toEqual(gaussianNoise(3, NoiseStream.training, 4, size));
    expect(denoiser.calls).toHaveLength(8);
  });

  test('RealEra: x_0 of the anchor prompt (all steps, made once per prompt) noised to t with sample noise', async () => {
    const denoiser = standIn();
    const latents = new TrainingLatents(denoiser, config, { seed: 9, latentSteps: 3, latentGuidance: 1, shape });
    const a = await latents.make({ kind: 'anchor-image', prompt: 'a photo of animal', timestep: 250 }, 5);
    const b = await latents.make({ kind: 'anchor-image', prompt: 'a photo of animal', timestep: 999 }, 6);
    // Guidance 1: the conditional branch only; 3 steps, once.
    expect(denoiser.calls).toEqual(['a photo of animal@667', 'a photo of animal@334', 'a photo of animal@1']);
    expect(a.timestep).toBe(250);
    // x_0 recovered from z_t at two timesteps with their own noise must agree.
    const x0 = (z: Float32Array, t: number, index: number) => {
      const noise = gaussianNoise(9, NoiseStream.training, 2 * index + 1, size);
      return Array.from(z, (v, j) => (v - Math.sqrt(1 - alphaBar(t)) * noise[j]) / Math.sqrt(alphaBar(t)));
    };
    const fromA = x0(a.latents, 250, 5);
    const fromB = x0(b.latents, 999, 6);
    for (let j = 0; j < size; j++) expect(fromA[j]).toBeCloseTo(fromB[j], 2);
    // ... and differ from the seeded start (the image was denoised).
    const start = initialLatents(9, shape);
    expect(Math.max(...fromA.map((v, j) => Math.abs(v - start[j])))).toBeGreaterThan(0.1);
  });
});
