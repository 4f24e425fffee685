/**
 * TrainingChain on the forged tiny-sd15 UNet (down -> mid -> up, 16x8 latent, LoRA factors on an
 * attn1 to_q in the down piece and an attn2 to_out.0 in the mid piece): with no budget it records
 * everything once; under a budget below that, pieces are recomputed (cut
 * into segments) during backward. Both give the same dL/d(K/V) and dL/d(factors), the budgeted
 * step peaks lower, and nothing stays allocated.
 */
import { describe, expect, test } from 'vitest';
import { loadPieceGraph, type LoraAdapter } from '../../src/autograd/executor.ts';
import { TensorDataType, type ModelProto } from '../../src/formats/onnx/types.ts';
import { int64s } from '../autograd/executor-fixtures.ts';
import { moduleOfNode } from '../../src/autograd/parameters.ts';
import { TrainingChain } from '../../src/training/training-chain.ts';
import { trainingPlan } from '../../src/training/training-plan.ts';
import { loadUnetPieces } from '../../src/training/unet-pieces.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError } from '../support/reference.ts';
import { tinyPack } from './tiny-pieces.ts';

const ctx = await testContext();
const { manifest, read } = await tinyPack();

describe('TrainingChain on tiny-sd15', () => {
  test('recorded and recomputed steps give the same K/V and LoRA factor gradients; the budget lowers the peak', async () => {
    const shape = { batch: 1, latentHeight: 16, latentWidth: 8 };
    const rng = new SeededRandom(8);
    // Factor shapes from the graphs' own MatMuls; B random so that dL/dA is not zero.
    const probe = await loadUnetPieces(ctx, manifest, read, shape);
    const adapters: LoraAdapter[] = ['down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0'].map((module) => {
      const node = probe.flatMap((g) => g.nodes).find((n) => n.opType === 'MatMul' && moduleOfNode(n.name) === module);
      if (!node) throw new Error(`no MatMul for ${module}`);
      const [inFeatures, outFeatures] = [node.inputShapes[0].at(-1)!, node.outputShapes[0].at(-1)!];
      return { module, alpha: 2, a: ctx.upload(rng.normalArray(2 * inFeatures, 0.3), [2, inFeatures]), b: ctx.upload(rng.normalArray(outFeatures * 2, 0.3), [outFeatures, 2]) };
    });
    for (const graph of probe) graph.release();
    const graphs = await loadUnetPieces(ctx, manifest, read, shape, { lora: adapters });
    const parameters = graphs.flatMap((g) => g.parameters.map((p) => p.name));
    const given = new Map<string, GpuTensor>();
    for (const graph of graphs)
      for (const input of graph.inputs) {
        if (given.has(input.name) || !(input.name === 'sample' || input.name === 'timestep' || /^[kv]_\d+$/.test(input.name))) continue;
        const size = input.shape.reduce((a, b) => a * b, 1);
        given.set(input.name, ctx.upload(input.name === 'timestep' ? Float32Array.from([400]) : rng.normalArray(size), input.shape));
      }
    const kv = [...given.keys()].filter((name) => /^[kv]_\d+$/.test(name));
    const wrt = [...kv, ...parameters];
    expect(parameters.length).toBe(4);
    const outputShape = graphs.at(-1)!.outputs[0].shape;
    const seed = ctx.upload(rng.normalArray(outputShape.reduce((a, b) => a * b, 1)), outputShape);
    try {
      await ctx.sync();
      const baseline = ctx.pool.snapshot().inUseBytes;
      const recordedChain = new TrainingChain(ctx, graphs);
      expect(recordedChain.mode).toBe('recorded');
      const step = async (chain: TrainingChain) => {
        const pass = chain.forward(given);
        const out = await ctx.read(pass.values.get('out_sample')!);
        const grads = pass.backward(new Map([['out_sample', seed]]), wrt);
        const read = new Map<string, Float32Array>();
        for (const [name, g] of grads) read.set(name, await ctx.read(g));
        for (const g of grads.values()) g.release();
        await ctx.sync();
        expect(ctx.pool.snapshot().inUseBytes, `${chain.mode}: everything the step made was returned`).toBe(baseline);
        return { out, grads: read, stats: pass.stats };
      };
      const recorded = await step(recordedChain);
      expect(recorded.stats.recomputedNodes).toBe(0);
      expect([...recorded.grads.keys()].sort()).toEqual([...wrt].sort());
      for (const name of parameters) expect(Math.max(...recorded.grads.get(name)!.map(Math.abs)), name).toBeGreaterThan(1e-4);

      const recordedBytes = recordedChain.plans.reduce((sum, plan) => sum + plan.estimatedPeakBytes, 0) + recordedChain.flowBytes;
      const budgeted = new TrainingChain(ctx, graphs, { memoryBudgetBytes: recordedBytes / 3 });
      expect(budgeted.mode).toBe('recomputed');
      expect(Math.max(...budgeted.plans.map((p) => p.boundaries.length - 1))).toBeGreaterThan(1);
      const recomputed = await step(budgeted);
      const nodes = graphs.reduce((n, g) => n + g.nodes.length, 0);
      // Every piece is re-run once, and all but each tail segment a second time.
      expect(recomputed.stats.recomputedNodes).toBeGreaterThan(nodes);
      expect(recomputed.stats.recomputedNodes).toBeLessThan(2 * nodes);
      expect(maxRelError(recomputed.out, recorded.out)).toBe(0);
      for (const name of wrt) expect(maxRelError(recomputed.grads.get(name)!, recorded.grads.get(name)!), name).toBeLessThan(1e-5);
      console.log(`tiny-sd15 16x8 step peak: recorded ${(recorded.stats.peakBytes / 1024).toFixed(0)} KiB, budget ${(recordedBytes / 3 / 1024).toFixed(0)} KiB -> ${(recomputed.stats.peakBytes / 1024).toFixed(0)} KiB (segments ${recomputed.stats.segments.join('/')}, recomputed ${recomputed.stats.recomputedNodes} of ${nodes} nodes)`);
      expect(recomputed.stats.peakBytes).toBeLessThan(recorded.stats.peakBytes * 0.6);
      // The planner's promise: every piece's plan fits, and so does the measured step.
      expect(budgeted.plans.every((plan) => plan.fitsBudget)).toBe(true);
      expect(recomputed.stats.peakBytes).toBeLessThanOrEqual(recordedBytes / 3);
    } finally {
      for (const t of [...given.values(), seed, ...adapters.flatMap((a) => [a.a, a.b])]) t.release();
      for (const graph of graphs) graph.release();
    }
  }, 120_000);

  test('a budget that is not a positive number is refused by name', async () => {
    expect(() => new TrainingChain(ctx, [], { memoryBudgetBytes: 0 })).toThrow(InputError);
    expect(() => new TrainingChain(ctx, [], { memoryBudgetBytes: Number.NaN })).toThrow(/memoryBudgetBytes/);
  });
});

describe('training plans from static shapes', () => {
  test('trainingPlan (no GPU) decides as TrainingChain does on the loaded pieces', async () => {
    const shape = { batch: 1, latentHeight: 16, latentWidth: 8 };
    const graphs = await loadUnetPieces(ctx, manifest, read, shape, { fuseAttention: true });
    try {
      const whole = new TrainingChain(ctx, graphs);
      const recordedBytes = whole.plans.reduce((sum, plan) => sum + plan.estimatedPeakBytes, 0) + whole.flowBytes;
      const budgets = [recordedBytes / 2, recordedBytes / 4];
      const report = await trainingPlan(manifest, read, shape, budgets, { fuseAttention: true });
      expect(report.nodes).toBe(graphs.reduce((n, g) => n + g.nodes.length, 0));
      expect(report.rows[0]).toMatchObject({ budgetBytes: null, mode: 'recorded', recomputeShare: 0, estimatedPeakBytes: recordedBytes });
      for (const [i, budget] of budgets.entries()) {
        const chain = new TrainingChain(ctx, graphs, { memoryBudgetBytes: budget });
        const row = report.rows[i + 1];
        expect(row.mode).toBe('recomputed');
        expect(row.segments).toEqual(chain.plans.map((p) => p.boundaries.length - 1));
        expect(row.estimatedPeakBytes).toBeLessThan(recordedBytes);
        expect(row.recomputeShare).toBeGreaterThan(1);
        expect(row.recomputeShare).toBeLessThan(2);
      }
    } finally {
      for (const graph of graphs) graph.release();
    }
  });
});

describe('piece outputs that are views', () => {
  // y = Reshape(Sigmoid(x)): the output shares the Sigmoid's buffer; z = Identity(x) shares the
  // caller's. The chain must free the first through its owner and leave the second alone.
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'lethe-tests',
    graph: {
      name: 'views',
      node: [
        { name: '/s/Sigmoid', opType: 'Sigmoid', input: ['x'], output: ['a'], attribute: [] },
        { name: '/s/Reshape', opType: 'Reshape', input: ['a', 'shape'], output: ['y'], attribute: [] },
        { name: '/s/Identity', opType: 'Identity', input: ['x'], output: ['z'], attribute: [] },
      ],
      initializer: [int64s('shape', [32])],
      input: [{ name: 'x', type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimValue: 4 }, { dimValue: 8 }] } } } }],
      output: ['y', 'z'].map((name) => ({ name, type: { tensorType: { elemType: TensorDataType.FLOAT } } })),
    },
  };

  test.each(['recorded', 'recomputed'] as const)('%s: nothing leaks and the caller keeps its input', async (mode) => {
    const graph = loadPieceGraph(ctx, model, { x: [4, 8] }, 'views');
    const rng = new SeededRandom(2);
    const xData = rng.normalArray(32);
    const x = ctx.upload(xData, [4, 8]);
    const seed = ctx.upload(rng.normalArray(32), [32]);
    try {
      await ctx.sync();
      const baseline = ctx.pool.snapshot().inUseBytes;
      const chain = new TrainingChain(ctx, [graph], { memoryBudgetBytes: mode === 'recorded' ? undefined : 1 });
      expect(chain.mode).toBe(mode);
      const pass = chain.forward(new Map([['x', x]]));
      const grads = pass.backward(new Map([['y', seed]]), ['x']);
      const dx = await ctx.read(grads.get('x')!);
      const seedData = await ctx.read(seed);
      for (let i = 0; i < 32; i++) {
        const s = 1 / (1 + Math.exp(-xData[i]));
        expect(dx[i]).toBeCloseTo(seedData[i] * s * (1 - s), 6);
      }
      for (const g of grads.values()) g.release();
      await ctx.sync();
      expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
      expect(await ctx.read(x)).toEqual(xData);
    } finally {
      x.release();
      seed.release();
      graph.release();
    }
  });
});
