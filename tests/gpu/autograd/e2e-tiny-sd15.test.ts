/**
 * End to end on the forged tiny-sd15 UNet (down/mid/up pieces chained by PieceChain): gradients
 * of a scalar loss with respect to LoRA factors on the attn2 K/V projections, through the
 * recorded tapes and the backward sweep, against finite differences of the same GPU forward;
 * then Adam fitting the K/V LoRAs so that the output for prompt A's K/V approaches the original
 * output for prompt B's (bench/training-step.ts, the training step the bench times).
 *
 * Prompts are stand-ins: seeded embeddings E_A, E_B and seeded projections W_k/W_v (the pack's
 * cross_attention weights play this role in the app); the maths is the same.
 */
import { describe, expect, test } from 'vitest';
import { fitKvLora, setUpTraining } from '../../../bench/training-step.ts';
import { loraBackward, loraProject } from '../../../src/gpu/autograd/lora.ts';
import type { GpuTensor } from '../../../src/gpu/tensor.ts';
import { testContext } from '../../support/gpu.ts';
import { randn } from '../../support/reference.ts';
import { tinyPack } from './tiny-pieces.ts';

const ctx = await testContext();
const pack = await tinyPack();

describe('tiny-sd15 end to end', () => {
  // About 100 s on SwiftShader (8 full UNet forwards plus a recorded one): opt-in, LETHE_SLOW=1.
  test.skipIf(!process.env.LETHE_SLOW)('LoRA factor gradients through the UNet match finite differences of the GPU forward', async () => {
    const setup = await setUpTraining(ctx, pack, { shape: { batch: 1, latentHeight: 16, latentWidth: 8 }, seed: 3 });
    const chosen = [setup.layers[0], setup.layers[setup.layers.length - 1]];
    for (const [i, { lora }] of chosen.entries()) for (const which of ['a', 'b'] as const) ctx.writeTensor(lora[which], Float32Array.from(randn(lora[which].size, 20 + 2 * i + (which === 'a' ? 0 : 1), 0.3)));
    const r = randn(setup.sample.size, 40);
    const rTensor = ctx.upload(r, setup.sample.shape);
    const kvInputs = (): Map<string, GpuTensor> => new Map([['sample', setup.sample], ['timestep', setup.timestep], ...setup.layers.map(({ name, weight, lora }) => [name, loraProject(ctx, setup.promptA, weight, chosen.some((c) => c.name === name) ? lora : { ...lora, alpha: 0 })] as const)]);
    const loss = async (): Promise<number> => {
      const given = kvInputs();
      const pass = setup.chain.forward(given);
      const out = await ctx.read(pass.values.get('out_sample')!);
      pass.dispose();
      for (const { name } of setup.layers) given.get(name)!.release();
      return out.reduce((s, v, i) => s + v * r[i], 0);
    };
    const given = kvInputs();
    const pass = setup.chain.forward(given);
    const dKv = pass.backward(new Map([['out_sample', rTensor]]), setup.layers.map((l) => l.name));
    expect([...dKv.keys()].sort()).toEqual(setup.layers.map((l) => l.name).sort());
    for (const { name } of setup.layers) given.get(name)!.release();
    // Directional derivatives: <grad, D> against (L(theta + hD) - L(theta - hD)) / 2h.
    // h = 0.002: the O(h²) curvature term (measured 6e-4 relative at h = 0.005) is below
    // 1e-4, and the f32 rounding of L (~1e-5 of |L| ~ 30) divided by 2h stays ~3e-4 relative.
    const h = 0.002;
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
        expect(Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-3)).toBeLessThan(3e-3);
      }
    }
    for (const t of [...dKv.values(), rTensor]) t.release();
    setup.release();
  }, 180_000);

  // Adam on all attn2 K/V LoRAs (rank 4), fused attention, 8x8 latent: about 3 s a step on
  // SwiftShader, so CI takes 8 steps and the 100-step run of #7 is opt-in (LETHE_SLOW=1; it
  // runs in seconds on a real GPU: bench/device/train-bench.node.ts).
  for (const steps of process.env.LETHE_SLOW ? [8, 100] : [8]) {
    test(`${steps} Adam steps on the K/V LoRAs bring the output for prompt A towards the original output for prompt B`, async () => {
      const setup = await setUpTraining(ctx, pack, { shape: { batch: 1, latentHeight: 8, latentWidth: 8 }, fuseAttention: true });
      try {
        await ctx.sync();
        const before = ctx.pool.snapshot().inUseBytes;
        const report = await fitKvLora(ctx, setup, { steps, learningRate: 0.02 });
        await ctx.sync();
        expect(ctx.pool.snapshot().inUseBytes, 'the fit returns everything it made').toBe(before);
        const { losses } = report;
        console.log(`${steps} steps: loss ${losses[0].toExponential(3)} -> ${losses.at(-1)!.toExponential(3)} (x${(losses[0] / losses.at(-1)!).toFixed(1)}) in ${report.seconds.toFixed(1)} s; step peak ${(report.peakBytes / 2 ** 20).toFixed(2)} MiB`);
        // Measured on SwiftShader: x5.3 after 6 steps.
        expect(losses.at(-1)!).toBeLessThan(losses[0] / (steps >= 100 ? 10 : 4));
        for (let i = 1; i < Math.min(steps, 8); i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
      } finally {
        setup.release();
      }
    }, steps * 30_000);
  }
});
