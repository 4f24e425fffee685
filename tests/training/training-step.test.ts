/**
 * Training through the forged tiny-sd15 and tiny-sd21 UNets (down/mid/up pieces chained by
 * TrainingChain): gradients of a scalar loss with respect to LoRA factors on the attn2 K/V
 * projections, through the recorded tapes and the backward sweep, against finite differences of
 * the same GPU forward; then the sanity run, Adam fitting the K/V LoRAs so that the output for
 * prompt A's K/V approaches the original output for prompt B's (src/training/training-step.ts, the
 * training step the bench times).
 *
 * Prompts are stand-ins: seeded embeddings E_A, E_B and seeded projections W_k/W_v (the pack's
 * cross_attention weights play this role in the app); the maths is the same.
 */
import { describe, expect, test } from 'vitest';
import { fitKvLora, promptAInputs, setUpTraining } from '../../src/training/training-step.ts';
import { runPieces } from '../../src/training/unet-pieces.ts';
import { loraBackward } from '../../src/autograd/lora.ts';
import { testContext } from '../support/gpu.ts';
import { randn } from '../support/reference.ts';
import { tinyPack } from './tiny-pieces.ts';

const ctx = await testContext();
const pack = await tinyPack();

// 12 UNet forwards and a recorded one per preset, 8x8 latent.
describe.each(['tiny-sd15', 'tiny-sd21'] as const)('%s: LoRA gradients through the chained UNet', (preset) => {
  test('K/V LoRA factor gradients on the first, a middle and the last attn2 match finite differences of the GPU forward', async () => {
    const setup = await setUpTraining(ctx, await tinyPack(preset), { shape: { batch: 1, latentHeight: 8, latentWidth: 8 }, seed: 3 });
    const chosen = [setup.layers[0], setup.layers[setup.layers.length >> 1], setup.layers[setup.layers.length - 1]];
    for (const [i, { lora }] of chosen.entries()) for (const which of ['a', 'b'] as const) ctx.writeTensor(lora[which], Float32Array.from(randn(lora[which].size, 20 + 2 * i + (which === 'a' ? 0 : 1), 0.3)));
    const r = randn(setup.sample.size, 40);
    const rTensor = ctx.upload(r, setup.sample.shape);
    const kvInputs = () => promptAInputs(ctx, setup, (name) => chosen.some((c) => c.name === name));
    const loss = async (): Promise<number> => {
      const { given, made } = kvInputs();
      const outputs = runPieces(setup.graphs, given);
      const out = await ctx.read(outputs.values.get('out_sample')!);
      outputs.release();
      for (const t of made) t.release();
      return out.reduce((s, v, i) => s + v * r[i], 0);
    };
    const { given, made } = kvInputs();
    const pass = setup.chain.forward(given);
    const dKv = pass.backward(new Map([['out_sample', rTensor]]), setup.layers.map((l) => l.name));
    expect([...dKv.keys()].sort()).toEqual(setup.layers.map((l) => l.name).sort());
    for (const t of made) t.release();
    // Directional derivatives: <grad, D> against (L(theta + hD) - L(theta - hD)) / 2h.
    // h = 0.005: the O(h²) curvature term is ~6e-4 relative (measured), and the f32 forward's
    // rounding over 2h stays ~1e-3 absolute (at h = 0.002 it reached 2.8e-3).
    const h = 0.005;
    for (const [i, { name, lora }] of chosen.entries()) {
      const { da, db } = loraBackward(ctx, setup.promptA, dKv.get(name)!, lora);
      for (const [which, grad] of [['a', da], ['b', db]] as const) {
        const param = lora[which];
        const original = await ctx.read(param);
        const direction = randn(param.size, 50 + i * 2 + (which === 'a' ? 0 : 1));
        const analytic = (await ctx.read(grad)).reduce((s, g, j) => s + g * direction[j], 0);
        ctx.writeTensor(param, original.map((v, j) => v + h * direction[j]));
        const plus = await loss();
        ctx.writeTensor(param, original.map((v, j) => v - h * direction[j]));
        const minus = await loss();
        ctx.writeTensor(param, original);
        const numeric = (plus - minus) / (2 * h);
        console.log(`${name}.${which}: analytic ${analytic.toFixed(6)} finite difference ${numeric.toFixed(6)}`);
        // Relative to the derivative, or to 1 for small ones (absolute noise, see h).
        expect(Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1)).toBeLessThan(3e-3);
      }
    }
    for (const t of [...dKv.values(), rTensor]) t.release();
    setup.release();
  }, 180_000);
});

describe('tiny-sd15 training', () => {

  // The sanity run: Adam on all attn2 K/V LoRAs (rank 4), fused attention, 8x8 latent.
  // About 3 s a step on SwiftShader (measured: 100 steps in 310 s, loss x3708; 30 steps, loss
  // x67), so it takes 30: still the longest test of the unit stage, and it stays in CI because it
  // is the one that shows training works.
  test('30 Adam steps on the K/V LoRAs bring the output for prompt A to the original output for prompt B (loss down 10x)', async () => {
    const steps = 30;
    const setup = await setUpTraining(ctx, pack, { shape: { batch: 1, latentHeight: 8, latentWidth: 8 }, fuseAttention: true });
    try {
      await ctx.sync();
      const before = ctx.pool.snapshot().inUseBytes;
      const report = await fitKvLora(ctx, setup, { steps, learningRate: 0.02 });
      await ctx.sync();
      expect(ctx.pool.snapshot().inUseBytes, 'the fit returns everything it made').toBe(before);
      const { losses } = report;
      console.log(`${steps} steps: loss ${losses[0].toExponential(3)} -> ${losses.at(-1)!.toExponential(3)} (x${(losses[0] / losses.at(-1)!).toFixed(1)}) in ${report.seconds.toFixed(1)} s; step peak ${(report.peakBytes / 2 ** 20).toFixed(2)} MiB`);
      expect(losses.at(-1)!).toBeLessThan(losses[0] / 10);
      // The first steps descend steadily (Adam at this rate does not overshoot early).
      for (let i = 1; i < 8; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    } finally {
      setup.release();
    }
  }, 1_500_000);
});
