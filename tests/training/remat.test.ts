/**
 * Rematerialization: segment plans under a memory budget (hand-checked on a small graph), and on the
 * forged tiny-sd15 mid piece, a recomputed pass (forward keeping only cut tensors, backward
 * recomputing each segment) against the plain recorded forward and sweep: same gradients,
 * lower measured peak, and nothing left allocated.
 */
import { describe, expect, test } from 'vitest';
import { backward } from '../../src/autograd/backward.ts';
import { crossingNames, graphLifetimes, planSegments } from '../../src/training/remat-plan.ts';
import { forwardForTraining } from '../../src/training/remat-pass.ts';
import { loadPieceGraph } from '../../src/autograd/executor.ts';
import type { OpNode } from '../../src/autograd/op-types.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError } from '../support/reference.ts';
import { tinyPiece } from './tiny-pieces.ts';

const node = (name: string, opType: string, inputs: string[], output: string, elements: number): OpNode => ({
  opType,
  name,
  inputs,
  outputs: [output],
  attributes: {},
  inputShapes: inputs.map(() => [elements]),
  outputShapes: [[elements]],
});

/**
 * x -> a -> b -> c -> d -> e (out), with a skip a -> e and a view r = Reshape(b):
 * 100-element (400-byte) tensors, the view costs nothing.
 */
const chain: OpNode[] = [
  node('n0', 'Sigmoid', ['x'], 'a', 100),
  node('n1', 'Sigmoid', ['a'], 'b', 100),
  node('n2', 'Reshape', ['b'], 'r', 100),
  node('n3', 'Sigmoid', ['r'], 'c', 100),
  node('n4', 'Sigmoid', ['c'], 'd', 100),
  node('n5', 'Add', ['d', 'a'], 'e', 100),
];

describe('segment plans', () => {
  const lifetimes = graphLifetimes(chain, ['e']);

  test('lifetimes: views hold no bytes; outputs live to the end; cut crossings include skips', () => {
    expect(lifetimes.nodeBytes).toEqual([400, 400, 0, 400, 400, 400]);
    expect(lifetimes.spans.get('a')).toEqual([0, 5]);
    expect(lifetimes.spans.get('e')).toEqual([5, 6]);
    expect(lifetimes.spans.has('x')).toBe(false);
    expect(crossingNames(lifetimes, 3).sort()).toEqual(['a', 'r']);
    expect(crossingNames(lifetimes, 4).sort()).toEqual(['a', 'c']);
  });

  test('cutting only adds stored tensors when a skip spans the graph: the whole stays the best plan', () => {
    // 2000 recorded + a VJP's working set (3 x 400); any cut stores a, plus r, c or d.
    const plan = planSegments(lifetimes, 3199);
    expect(plan.boundaries).toEqual([0, 6]);
    expect(plan.estimatedPeakBytes).toBe(3200);
    expect(plan.fitsBudget).toBe(false);
  });

  // y0 -> y1 -> ... -> y7: eight 400-byte tensors in a line, 3200 bytes recorded.
  const line = graphLifetimes(
    Array.from({ length: 8 }, (_, i) => node(`m${i}`, 'Sigmoid', [i === 0 ? 'x' : `y${i - 1}`], `y${i}`, 100)),
    ['y7'],
  );

  test('one segment when the whole tape fits; the coarsest cut that fits; the lowest estimate when none does', () => {
    // Every estimate adds a VJP's working set: 3 x 400 bytes.
    const whole = planSegments(line, 4400);
    expect(whole.boundaries).toEqual([0, 8]);
    expect(whole.estimatedPeakBytes).toBe(4400);
    expect(whole.fitsBudget).toBe(true);

    // Limit 1600: two segments; y3 is stored (400), a segment (1600), gradients at both ends of
    // a segment (2 x 400), a VJP (1200).
    const halves = planSegments(line, 4399);
    expect(halves.boundaries).toEqual([0, 4, 8]);
    expect(halves.segmentBytes).toEqual([1600, 1600]);
    expect(halves.storedBytes).toBe(400);
    expect(halves.estimatedPeakBytes).toBe(400 + 1600 + 2 * 400 + 1200);
    expect(halves.fitsBudget).toBe(true);

    // Quarters also estimate 4000 (1200 stored + 800 + 800 + 1200), eighths 5200: nothing reaches 3000.
    const tight = planSegments(line, 3000);
    expect(tight.fitsBudget).toBe(false);
    expect(tight.boundaries).toEqual([0, 4, 8]);
    expect(tight.estimatedPeakBytes).toBe(4000);
  });
});

const ctx = await testContext();
// A 64x64 latent makes the mid piece's spatial activations (8x8 tokens) outweigh the K/V ones.
const mid = await tinyPiece('mid', { batch: 1, latentHeight: 64, latentWidth: 64 });
const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

describe('a recomputed pass on the tiny-sd15 mid piece', () => {
  test('every segment plan gives the plain sweep gradients; finer plans peak lower and leak nothing', async () => {
    const graph = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid');
    const rng = new SeededRandom(5);
    const inputs: Record<string, GpuTensor> = Object.fromEntries(Object.entries(mid.shapes).map(([name, dims]) => [name, ctx.upload(name === 'timestep' ? Float32Array.from([500]) : rng.normalArray(size(dims)), dims)]));
    const seeds = new Map(graph.outputs.map((o) => [o.name, ctx.upload(rng.normalArray(size(o.shape)), o.shape)]));
    const wrt = graph.inputs.map((i) => i.name).filter((name) => name !== 'timestep');
    const lifetimes = graphLifetimes(graph.nodes, graph.outputs.map((o) => o.name), graph.inputs);
    const whole = planSegments(lifetimes, Infinity);
    try {
      await ctx.sync();
      const baseline = ctx.pool.snapshot().inUseBytes;

      // Reference: the plain recorded forward and sweep.
      const watch = ctx.pool.watchPeak();
      const { outputs, tape } = graph.forward(inputs, { record: true });
      const { grads } = backward(ctx, tape!, { seeds, wrt, releaseActivations: true, keep: new Set(Object.values(outputs)) });
      watch.stop();
      const reference = new Map<string, Float32Array>();
      for (const [name, g] of grads) reference.set(name, await ctx.read(g));
      for (const t of [...grads.values(), ...Object.values(outputs)]) t.release();
      expect([...reference.keys()].sort()).toEqual([...wrt].sort());
      expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
      const plainPeak = watch.peakBytes - watch.startBytes;

      const peaks: number[] = [];
      const budgets = [Infinity, whole.estimatedPeakBytes / 2, whole.estimatedPeakBytes / 8];
      for (const budget of budgets) {
        const plan = planSegments(lifetimes, budget);
        for (const recordTail of [true, false]) {
          const watchPass = ctx.pool.watchPeak();
          const pass = forwardForTraining(ctx, graph, lifetimes, plan, inputs, { recordTail });
          const passGrads = pass.backward(seeds, wrt);
          watchPass.stop();
          expect(pass.recomputedNodes).toBe(recordTail ? plan.boundaries.at(-2)! : graph.nodes.length);
          expect([...passGrads.keys()].sort()).toEqual([...wrt].sort());
          // Same kernels on the same inputs: equal up to summation order of accumulated gradients.
          for (const [name, g] of passGrads) expect(maxRelError(await ctx.read(g), reference.get(name)!), `${name}, ${plan.boundaries.length - 1} segments`).toBeLessThan(1e-5);
          for (const t of [...passGrads.values(), ...Object.values(pass.outputs)]) t.release();
          expect(ctx.pool.snapshot().inUseBytes, 'everything the pass made was returned').toBe(baseline);
          if (recordTail) peaks.push(watchPass.peakBytes - watchPass.startBytes);
          // The estimate is an upper bound of what the pool measured (the planner's promise).
          expect(watchPass.peakBytes - watchPass.startBytes).toBeLessThanOrEqual(plan.estimatedPeakBytes);
          console.log(`budget ${budget} B: ${plan.boundaries.length - 1} segments, estimate ${plan.estimatedPeakBytes} B (fits: ${plan.fitsBudget}), measured ${watchPass.peakBytes - watchPass.startBytes} B, recordTail ${recordTail}`);
          expect(() => pass.backward(seeds, wrt)).toThrow(/already swept/);
        }
        if (budget !== Infinity) expect(plan.boundaries.length).toBeGreaterThan(2);
      }
      console.log(`mid piece step peak: plain ${(plainPeak / 1024).toFixed(0)} KiB; plans ${peaks.map((p) => `${(p / 1024).toFixed(0)} KiB`).join(', ')}`);
      expect(peaks[0]).toBe(plainPeak);
      expect(peaks[1]).toBeLessThan(peaks[0] * 0.6);
      expect(peaks[2]).toBeLessThanOrEqual(peaks[1]);
    } finally {
      for (const t of [...Object.values(inputs), ...seeds.values()]) t.release();
      graph.release();
    }
  }, 120_000);

  test('dispose() without backward frees the stored cut tensors and the tail tape', async () => {
    const graph = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid');
    const rng = new SeededRandom(6);
    const inputs: Record<string, GpuTensor> = Object.fromEntries(Object.entries(mid.shapes).map(([name, dims]) => [name, ctx.upload(name === 'timestep' ? Float32Array.from([500]) : rng.normalArray(size(dims)), dims)]));
    const lifetimes = graphLifetimes(graph.nodes, graph.outputs.map((o) => o.name), graph.inputs);
    try {
      await ctx.sync();
      const baseline = ctx.pool.snapshot().inUseBytes;
      const plan = planSegments(lifetimes, planSegments(lifetimes, Infinity).estimatedPeakBytes / 3);
      const pass = forwardForTraining(ctx, graph, lifetimes, plan, inputs);
      expect(ctx.pool.snapshot().inUseBytes).toBeGreaterThan(baseline);
      pass.dispose();
      for (const t of Object.values(pass.outputs)) t.release();
      await ctx.sync(); // uniform buffers of recorded dispatches return on submit
      expect(ctx.pool.snapshot().inUseBytes).toBe(baseline);
    } finally {
      for (const t of Object.values(inputs)) t.release();
      graph.release();
    }
  }, 60_000);
});
