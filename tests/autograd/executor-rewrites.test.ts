/**
 * loadPieceGraph's opt-in rewrites on the forged tiny-sd15 mid piece: fused attention against
 * the unfused graph (forward and the gradient w.r.t. a K input), and LoRA factors on to_q /
 * to_out.0 inside the piece against central finite differences of the same GPU forward.
 */
import { describe, expect, test } from 'vitest';
import { backward } from '../../src/autograd/backward.ts';
import { loadPieceGraph, type LoraAdapter, type PieceGraph } from '../../src/autograd/executor.ts';
import { moduleOfNode } from '../../src/autograd/parameters.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError } from '../support/reference.ts';
import { tinyPiece } from '../training/tiny-pieces.ts';

const ctx = await testContext();

const mid = await tinyPiece('mid');
const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function randomInputs(seed: number): Record<string, GpuTensor> {
  const rng = new SeededRandom(seed);
  return Object.fromEntries(Object.entries(mid.shapes).map(([name, dims]) => [name, ctx.upload(name === 'timestep' ? Float32Array.from([500]) : rng.normalArray(size(dims)), dims)]));
}

/** Seeds dL/d(out) = w_out for L = Σ w_out · out over the piece outputs. */
function lossWeights(graph: PieceGraph, seed: number): Map<string, Float32Array> {
  const rng = new SeededRandom(seed);
  return new Map(graph.outputs.map((o) => [o.name, rng.normalArray(size(o.shape))]));
}

describe('fused attention in the executor', () => {
  test('the fused mid piece matches the unfused one, outputs and dL/dk', async () => {
    const plain = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid');
    const fused = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid', { fuseAttention: true });
    const inputs = randomInputs(5);
    const kName = Object.keys(mid.shapes).find((n) => /^k_\d+$/.test(n))!;
    try {
      const fusedCount = fused.nodes.filter((n) => n.opType === 'LetheAttention').length;
      expect(fusedCount).toBeGreaterThanOrEqual(2); // attn1 and attn2 of the mid transformer
      expect(plain.nodes.length - fused.nodes.length).toBe(4 * fusedCount);
      const weights = lossWeights(plain, 9);
      const seeds = new Map([...weights].map(([name, w]) => [name, ctx.upload(w, plain.outputs.find((o) => o.name === name)!.shape)]));
      const grads: Float32Array[] = [];
      const outs: Float32Array[] = [];
      for (const graph of [plain, fused]) {
        const { outputs, tape } = graph.forward(inputs, { record: true });
        for (const o of mid.outputs) outs.push(await ctx.read(outputs[o]));
        const { grads: g } = backward(ctx, tape!, { seeds, wrt: [kName] });
        grads.push(await ctx.read(g.get(kName)!));
        for (const t of g.values()) t.release();
        graph.releaseTape(tape!);
      }
      const half = outs.length / 2;
      for (let i = 0; i < half; i++) expect(maxRelError(outs[half + i], outs[i])).toBeLessThan(1e-4);
      expect(Math.max(...grads[0].map(Math.abs))).toBeGreaterThan(1e-3);
      expect(maxRelError(grads[1], grads[0])).toBeLessThan(1e-3);
      for (const t of seeds.values()) t.release();
    } finally {
      for (const t of Object.values(inputs)) t.release();
      plain.release();
      fused.release();
    }
  });
});

describe('LoRA inside a piece', () => {
  test('gradients of to_q / to_out.0 factors match central finite differences', async () => {
    const modules = [...new Set(mid.model.graph.node.filter((n) => n.opType === 'MatMul' && /\/attn1\/(to_q|to_out\.0)\/MatMul$/.test(n.name ?? '')).map((n) => moduleOfNode(n.name!)))];
    expect(modules.length).toBe(2);
    const rng = new SeededRandom(17);
    const probe = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid');
    const features = (module: string): [number, number] => {
      const node = probe.nodes.find((n) => n.opType === 'MatMul' && moduleOfNode(n.name) === module)!;
      return [node.inputShapes[0].at(-1)!, node.outputShapes[0].at(-1)!];
    };
    const rank = 2;
    // B random (not the usual zeros) so that dL/dA is not zero too.
    const hostFactors = modules.map((module) => {
      const [inF, outF] = features(module);
      return { module, a: rng.normalArray(rank * inF).map((x) => x * 0.3), b: rng.normalArray(outF * rank).map((x) => x * 0.3), inF, outF };
    });
    probe.release();
    const adapters: LoraAdapter[] = hostFactors.map((f) => ({ module: f.module, alpha: 3, a: ctx.upload(f.a, [rank, f.inF]), b: ctx.upload(f.b, [f.outF, rank]) }));
    const graph = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid', { lora: adapters });
    const inputs = randomInputs(6);
    const weights = lossWeights(graph, 8);
    const loss = async (): Promise<number> => {
      const { outputs } = graph.forward(inputs);
      let sum = 0;
      for (const [name, w] of weights) {
        const y = await ctx.read(outputs[name]);
        for (let i = 0; i < y.length; i++) sum += w[i] * y[i];
        outputs[name].release();
      }
      return sum;
    };
    try {
      expect(graph.nodes.filter((n) => n.opType === 'LetheLora').length).toBe(2);
      expect(graph.parameters.map((p) => p.name)).toEqual(modules.flatMap((m) => [`${m}.lora_A`, `${m}.lora_B`]));
      const seeds = new Map([...weights].map(([name, w]) => [name, ctx.upload(w, graph.outputs.find((o) => o.name === name)!.shape)]));
      const { outputs, tape } = graph.forward(inputs, { record: true });
      const { grads } = backward(ctx, tape!, { seeds, wrt: graph.parameters.map((p) => p.name) });
      const analytic = new Map<string, Float32Array>();
      for (const [name, g] of grads) analytic.set(name, await ctx.read(g));
      for (const g of grads.values()) g.release();
      expect(Object.keys(outputs).sort()).toEqual([...mid.outputs].sort());
      graph.releaseTape(tape!); // the outputs too: they are tape entries' outputs
      for (const t of seeds.values()) t.release();
      expect([...analytic.keys()].sort()).toEqual(graph.parameters.map((p) => p.name).sort());

      const eps = 1e-2;
      const probeRng = new SeededRandom(4);
      for (const [k, f] of hostFactors.entries()) {
        for (const which of ['a', 'b'] as const) {
          const host = f[which];
          const tensor = adapters[k][which];
          const grad = analytic.get(`${f.module}.lora_${which.toUpperCase()}`)!;
          for (let trial = 0; trial < 3; trial++) {
            const i = Math.floor(probeRng.uniform() * host.length);
            const original = host[i];
            host[i] = original + eps;
            ctx.writeTensor(tensor, host);
            const up = await loss();
            host[i] = original - eps;
            ctx.writeTensor(tensor, host);
            const down = await loss();
            host[i] = original;
            ctx.writeTensor(tensor, host);
            const numeric = (up - down) / (2 * eps);
            expect(Math.abs(grad[i] - numeric), `${f.module} ${which}[${i}]: ${grad[i]} vs ${numeric}`).toBeLessThan(1e-2 * Math.max(0.1, Math.abs(numeric)));
          }
        }
      }
    } finally {
      for (const t of Object.values(inputs)) t.release();
      for (const a of adapters) {
        a.a.release();
        a.b.release();
      }
      graph.release();
    }
  });
});
