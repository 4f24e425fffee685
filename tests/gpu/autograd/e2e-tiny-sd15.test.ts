/**
 * End to end on the forged tiny-sd15 UNet (down/mid/up pieces run by the WGSL executor):
 * gradients of a scalar loss with respect to LoRA factors on the attn2 K/V projections, through
 * the recorded tapes and the backward sweep, against finite differences of the same GPU
 * forward; then 100 Adam steps fitting one LoRA (all attn2 to_k/to_v) so that the output for
 * prompt A's K/V approaches the original output for prompt B's.
 *
 * Prompts are stand-ins: seeded embeddings E_A, E_B [1, T, C] and seeded projections W_k/W_v
 * (the pack's cross_attention weights play this role in the app); the maths is the same.
 */
import { describe, expect, test } from 'vitest';
import { decodeModel } from '../../../src/formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../../../src/formats/onnx/external-data.ts';
import { backward } from '../../../src/gpu/autograd/backward.ts';
import { binary } from '../../../src/gpu/kernels/binary.ts';
import { loadPieceGraph, type PieceGraph } from '../../../src/gpu/autograd/executor.ts';
import { loraBackward, loraProject, type LoraFactors } from '../../../src/gpu/autograd/lora.ts';
import type { TapeEntry } from '../../../src/gpu/autograd/op-types.ts';
import { Adam } from '../../../src/gpu/optim/adam.ts';
import type { GpuTensor } from '../../../src/gpu/tensor.ts';
import { convertExport, memorySource, MemorySink } from '../../../src/model/converter/index.ts';
import { forgeInMemory } from '../../../src/model/forge/forge.ts';
import { testContext } from '../../support/gpu.ts';
import { randn } from '../../support/reference.ts';
import { evalDim } from '../../model/converter-fixtures.ts';

const ctx = await testContext();
const CONTEXT_DIM = 24;
const RANK = 4;
const ALPHA = 4;

interface Unet {
  graphs: PieceGraph[];
  shapes: Record<string, number[]>[];
  outputs: string[][];
  /** K/V input names (k_0, v_0, ...) with their shapes [B, T, inner]. */
  kv: Map<string, number[]>;
}

async function loadUnet(): Promise<Unet> {
  const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: 11, dtype: 'fp32' });
  const sink = new MemorySink();
  const manifest = await convertExport(memorySource(files), sink, { plan: 'default' });
  const bindings = { batch_size: 1, num_channels: 4, height: 16, width: 8, steps: 1 };
  const unet: Unet = { graphs: [], shapes: [], outputs: [], kv: new Map() };
  for (const piece of manifest.pieces) {
    const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
    const model = await inlineExternalData(decodeModel(sink.files.get(piece.file)!, piece.file), piece.file, (location) => externalDataFromBytes(sink.files.get(dir + location)!));
    const shapes = Object.fromEntries(piece.inputs.map((i) => [i.name, i.shape.map((d) => evalDim(d, bindings))]));
    unet.graphs.push(loadPieceGraph(ctx, model, shapes, piece.name));
    unet.shapes.push(shapes);
    unet.outputs.push(piece.outputs.map((o) => o.name));
    for (const [name, dims] of Object.entries(shapes)) if (/^[kv]_\d+$/.test(name)) unet.kv.set(name, dims);
  }
  return unet;
}

interface Pass {
  out: GpuTensor;
  tapes: TapeEntry[][];
  /** Every tensor the chain made (piece outputs), for release. */
  made: GpuTensor[];
}

/** Runs down -> mid -> up on `given` (sample, timestep, K/V), recording tapes when asked. */
function runUnet(unet: Unet, given: Map<string, GpuTensor>, record: boolean): Pass {
  const values = new Map(given);
  const tapes: TapeEntry[][] = [];
  const made: GpuTensor[] = [];
  unet.graphs.forEach((graph, i) => {
    const inputs = Object.fromEntries(Object.keys(unet.shapes[i]).map((name) => [name, values.get(name)!]));
    const { outputs, tape } = graph.forward(inputs, { record });
    if (tape) tapes.push(tape);
    for (const name of unet.outputs[i]) {
      values.set(name, outputs[name]);
      made.push(outputs[name]);
    }
  });
  return { out: values.get('out_sample')!, tapes, made };
}

/** dL/d(K/V inputs) for a seed on out_sample, sweeping up -> mid -> down. */
function kvGradients(unet: Unet, pass: Pass, seed: GpuTensor): Map<string, GpuTensor> {
  const grads = new Map<string, GpuTensor>([['out_sample', seed]]);
  const result = new Map<string, GpuTensor>();
  for (let i = unet.graphs.length - 1; i >= 0; i--) {
    const seeds = new Map(unet.outputs[i].filter((name) => grads.has(name)).map((name) => [name, grads.get(name)!]));
    const wrt = Object.keys(unet.shapes[i]).filter((name) => name !== 'timestep');
    const { grads: pieceGrads } = backward(ctx, pass.tapes[i], { seeds, wrt, releaseActivations: true, keep: new Set(pass.made) });
    for (const name of unet.outputs[i]) if (grads.get(name) !== seed) grads.get(name)?.release();
    for (const [name, g] of pieceGrads) {
      if (/^[kv]_\d+$/.test(name)) {
        const previous = result.get(name);
        if (previous) throw new Error(`${name} read by two pieces`);
        result.set(name, g);
      } else if (name === 'sample') g.release();
      else {
        // A down output can feed both mid and up (skip connection): sum the contributions.
        const previous = grads.get(name);
        if (previous) {
          grads.set(name, binary(ctx, 'add', previous, g));
          previous.release();
          g.release();
        } else grads.set(name, g);
      }
    }
    // releaseActivations already freed the tape (its releaseTape would touch freed inputs).
  }
  return result;
}

interface Adapted {
  e: GpuTensor;
  weights: Map<string, GpuTensor>;
  loras: Map<string, LoraFactors>;
}

/** K/V inputs E Wᵀ + s E Aᵀ Bᵀ; layers without factors use zero ones (plain E Wᵀ). */
function kvInputs(unet: Unet, adapted: Adapted): Map<string, GpuTensor> {
  return new Map([...unet.kv.keys()].map((name) => [name, loraProject(ctx, adapted.e, adapted.weights.get(name)!, adapted.loras.get(name) ?? zeroLoras.get(name)!)]));
}

const zeroLoras = new Map<string, LoraFactors>();

describe('tiny-sd15 end to end', async () => {
  const unet = await loadUnet();
  const [, tokens] = [...unet.kv.values()][0];
  const sample = ctx.upload(randn(1 * 4 * 16 * 8, 1), [1, 4, 16, 8]);
  const timestep = ctx.upload([500], unet.shapes[0].timestep ?? [1]);
  const eA = ctx.upload(randn(tokens * CONTEXT_DIM, 2), [1, tokens, CONTEXT_DIM]);
  const eB = ctx.upload(randn(tokens * CONTEXT_DIM, 3), [1, tokens, CONTEXT_DIM]);
  const weights = new Map([...unet.kv].map(([name, dims], i) => [name, ctx.upload(randn(dims[2] * CONTEXT_DIM, 10 + i, 1 / Math.sqrt(CONTEXT_DIM)), [dims[2], CONTEXT_DIM])]));
  for (const [name, dims] of unet.kv) zeroLoras.set(name, { a: ctx.upload(new Float32Array(RANK * CONTEXT_DIM), [RANK, CONTEXT_DIM]), b: ctx.upload(new Float32Array(dims[2] * RANK), [dims[2], RANK]), alpha: ALPHA });
  const base = (): Map<string, GpuTensor> => new Map([['sample', sample], ['timestep', timestep]]);

  // About 100 s on SwiftShader (8 full UNet forwards plus a recorded one): opt-in, LETHE_SLOW=1.
  test.skipIf(!process.env.LETHE_SLOW)('LoRA factor gradients through the UNet match finite differences of the GPU forward', async () => {
    const names = [...unet.kv.keys()];
    const chosen = [names[0], names[names.length - 1]];
    const loras = new Map(chosen.map((name, i) => [name, { a: ctx.upload(randn(RANK * CONTEXT_DIM, 20 + i, 0.3), [RANK, CONTEXT_DIM]), b: ctx.upload(randn(unet.kv.get(name)![2] * RANK, 30 + i, 0.3), [unet.kv.get(name)![2], RANK]), alpha: ALPHA }]));
    const adapted: Adapted = { e: eA, weights, loras };
    const r = randn(4 * 16 * 8, 40);
    const rTensor = ctx.upload(r, [1, 4, 16, 8]);
    const loss = async (): Promise<number> => {
      const kv = kvInputs(unet, adapted);
      const pass = runUnet(unet, new Map([...base(), ...kv]), false);
      const out = await ctx.read(pass.out);
      for (const t of [...pass.made, ...kv.values()]) t.release();
      return out.reduce((s, v, i) => s + v * r[i], 0);
    };
    const kv = kvInputs(unet, adapted);
    const pass = runUnet(unet, new Map([...base(), ...kv]), true);
    const dKv = kvGradients(unet, pass, rTensor);
    expect([...dKv.keys()].sort()).toEqual([...unet.kv.keys()].sort());
    for (const t of [...pass.made, ...kv.values()]) t.release();
    // Directional derivatives: <grad, D> against (L(theta + hD) - L(theta - hD)) / 2h.
    // h = 0.002: the O(h²) curvature term (measured 6e-4 relative at h = 0.005) is below
    // 1e-4, and the f32 rounding of L (~1e-5 of |L| ~ 30) divided by 2h stays ~3e-4 relative.
    const h = 0.002;
    for (const [i, name] of chosen.entries()) {
      const lora = loras.get(name)!;
      const { da, db } = loraBackward(ctx, eA, dKv.get(name)!, lora);
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
  }, 180_000);

  // Over 15 minutes on SwiftShader (not finished there); meant for a real GPU. Opt-in, LETHE_SLOW=1.
  test.skipIf(!process.env.LETHE_SLOW)('100 Adam steps on one LoRA bring the output for prompt A to the original output for prompt B', async () => {
    const target = runUnet(unet, new Map([...base(), ...kvInputs(unet, { e: eB, weights, loras: new Map() })]), false);
    const targetData = await ctx.read(target.out);
    const loras = new Map([...unet.kv].map(([name, dims], i) => [name, { a: ctx.upload(randn(RANK * CONTEXT_DIM, 60 + i, 1 / Math.sqrt(CONTEXT_DIM)), [RANK, CONTEXT_DIM]), b: ctx.upload(new Float32Array(dims[2] * RANK), [dims[2], RANK]), alpha: ALPHA }]));
    const params = [...loras.values()].flatMap((l) => [l.a, l.b]);
    const adam = new Adam(ctx, params, { learningRate: 0.02, maxGradNorm: 1 });
    const losses: number[] = [];
    ctx.pool.resetPeak();
    const started = performance.now();
    for (let step = 0; step < 100; step++) {
      const kv = kvInputs(unet, { e: eA, weights, loras });
      const pass = runUnet(unet, new Map([...base(), ...kv]), true);
      const out = await ctx.read(pass.out);
      const n = out.length;
      let loss = 0;
      const seedData = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        const d = out[j] - targetData[j];
        loss += (d * d) / n;
        seedData[j] = (2 * d) / n;
      }
      losses.push(loss);
      const seed = ctx.upload(seedData, pass.out.shape);
      const dKv = kvGradients(unet, pass, seed);
      const grads: GpuTensor[] = [];
      for (const [name, lora] of loras) {
        const { da, db } = loraBackward(ctx, eA, dKv.get(name)!, lora);
        grads.push(da, db);
      }
      adam.step(grads);
      for (const t of [...grads, ...dKv.values(), ...pass.made, ...kv.values(), seed]) t.release();
    }
    await ctx.sync();
    const seconds = (performance.now() - started) / 1000;
    const stats = ctx.pool.snapshot();
    console.log(`loss ${losses[0].toExponential(3)} -> ${losses[99].toExponential(3)} (x${(losses[0] / losses[99]).toFixed(1)}) in ${seconds.toFixed(1)} s; pool peak in use ${(stats.peakInUseBytes / 2 ** 20).toFixed(2)} MiB, allocated ${(stats.allocatedBytes / 2 ** 20).toFixed(2)} MiB`);
    expect(losses[99]).toBeLessThan(losses[0] / 10);
    adam.dispose();
  }, 3_600_000);
});
