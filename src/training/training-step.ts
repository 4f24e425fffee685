/**
 * One K/V-LoRA training step on a pack's UNet pieces with the WGSL executor: K_l/V_l = E Wᵀ +
 * s E Aᵀ Bᵀ for every attn2 layer (E Wᵀ made once), the chained forward, dL/d(out) = 2 (out - target) / n, the
 * backward sweep to every K/V input, and the LoRA factor gradients. `fitKvLora` runs Adam steps
 * of the same step (the sanity run: prompt A's output approaches prompt B's).
 *
 * Prompts are seeded stand-ins (E_A, E_B [B, T, C]) and the projections seeded W [inner, C]:
 * the computation and the shapes are those of training on the pack. No Node imports: it runs in
 * the browser and in Node alike. bench/training-step-bench.ts times it.
 */
import type { GpuContext } from '../gpu/context.ts';
import { loraBackward, loraForward, type LoraFactors } from '../autograd/lora.ts';
import { matmul } from '../gpu/kernels/matmul.ts';
import { TrainingChain, type ChainStepStats } from './training-chain.ts';
import type { PieceGraph } from '../autograd/executor.ts';
import { loadUnetPieces, runPieces, type UnetShape } from './unet-pieces.ts';
import type { PackReader } from '../model/pack-reader.ts';
import { Adam } from '../autograd/optim/adam.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { PackManifest } from '../model/manifest.ts';
import { SeededRandom } from '../util/random.ts';

export interface TrainingSetupOptions {
  shape: UnetShape;
  fuseAttention?: boolean;
  memoryBudgetBytes?: number;
  rank?: number;
  alpha?: number;
  seed?: number;
}

/** Everything a step reads, on the GPU. */
export interface TrainingSetup {
  graphs: PieceGraph[];
  chain: TrainingChain;
  /**
   * K/V input names (k_0, v_0, ...) with their LoRA factors (B zero at start, like PEFT) and the
   * base projections E Wᵀ of both prompts, made once: only the LoRA delta changes per step.
   */
  layers: { name: string; lora: LoraFactors; baseA: GpuTensor; baseB: GpuTensor }[];
  sample: GpuTensor;
  timestep: GpuTensor;
  promptA: GpuTensor;
  promptB: GpuTensor;
  weightsBytes: number;
  loadMs: number;
  release(): void;
}

export async function setUpTraining(ctx: GpuContext, pack: { manifest: Pick<PackManifest, 'dims' | 'pieces'>; read: PackReader['bytes'] }, options: TrainingSetupOptions): Promise<TrainingSetup> {
  const { shape } = options;
  const rank = options.rank ?? 4;
  const alpha = options.alpha ?? rank;
  const rng = new SeededRandom(options.seed ?? 1);
  await ctx.sync();
  const before = ctx.pool.snapshot().inUseBytes;
  const loadStart = performance.now();
  const graphs = await loadUnetPieces(ctx, pack.manifest, pack.read, shape, { fuseAttention: options.fuseAttention });
  await ctx.sync();
  const loadMs = performance.now() - loadStart;
  const weightsBytes = ctx.pool.snapshot().inUseBytes - before;
  const chain = new TrainingChain(ctx, graphs, { memoryBudgetBytes: options.memoryBudgetBytes });
  const { textTokens, textHidden, latentChannels } = pack.manifest.dims;
  const kvShapes = new Map<string, readonly number[]>();
  for (const graph of graphs) for (const input of graph.inputs) if (/^[kv]_\d+$/.test(input.name)) kvShapes.set(input.name, input.shape);
  // Draw order (weights and factors per layer, then sample and prompts) fixes every seeded value.
  const drawn = [...kvShapes].map(([name, dims]) => {
    const inner = dims[dims.length - 1];
    const weight = ctx.upload(rng.normalArray(inner * textHidden, 1 / Math.sqrt(textHidden)), [inner, textHidden]);
    const lora = { a: ctx.upload(rng.normalArray(rank * textHidden, 1 / Math.sqrt(textHidden)), [rank, textHidden]), b: ctx.upload(new Float32Array(inner * rank), [inner, rank]), alpha };
    return { name, weight, lora };
  });
  const latent = [shape.batch, latentChannels, shape.latentHeight, shape.latentWidth];
  const prompt = [shape.batch, textTokens, textHidden];
  const count = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
  const sample = ctx.upload(rng.normalArray(count(latent)), latent);
  const timestep = ctx.upload(new Float32Array(shape.batch).fill(500), [shape.batch]);
  const promptA = ctx.upload(rng.normalArray(count(prompt)), prompt);
  const promptB = ctx.upload(rng.normalArray(count(prompt)), prompt);
  const layers = drawn.map(({ name, weight, lora }) => {
    const project = (e: GpuTensor): GpuTensor => matmul(ctx, e, weight, { transposeB: true });
    const layer = { name, lora, baseA: project(promptA), baseB: project(promptB) };
    weight.release();
    return layer;
  });
  return {
    graphs,
    chain,
    layers,
    sample,
    timestep,
    promptA,
    promptB,
    weightsBytes,
    loadMs,
    release() {
      for (const t of [sample, timestep, promptA, promptB, ...layers.flatMap((l) => [l.baseA, l.baseB, l.lora.a, l.lora.b])]) t.release();
      for (const graph of graphs) graph.release();
    },
  };
}

/**
 * The chain's inputs for prompt A: each layer's K/V, plus its LoRA delta where `adapted` says so
 * (every layer by default). `made` holds what to release after the step.
 */
export function promptAInputs(ctx: GpuContext, setup: TrainingSetup, adapted: (name: string) => boolean = () => true): { given: Map<string, GpuTensor>; made: GpuTensor[] } {
  const given = new Map<string, GpuTensor>([
    ['sample', setup.sample],
    ['timestep', setup.timestep],
  ]);
  const made: GpuTensor[] = [];
  for (const { name, lora, baseA } of setup.layers) {
    if (!adapted(name)) {
      given.set(name, baseA);
      continue;
    }
    const kv = loraForward(ctx, setup.promptA, baseA, lora);
    given.set(name, kv);
    made.push(kv);
  }
  return { given, made };
}

/** The UNet output for prompt B without LoRA, on the CPU: what prompt A is trained towards. */
export async function targetOutput(ctx: GpuContext, setup: TrainingSetup): Promise<Float32Array> {
  const given = new Map<string, GpuTensor>([
    ['sample', setup.sample],
    ['timestep', setup.timestep],
    ...setup.layers.map(({ name, baseB }) => [name, baseB] as const),
  ]);
  const pass = setup.chain.forward(given);
  const target = await ctx.read(pass.values.get('out_sample')!);
  pass.dispose();
  return target;
}

/** Forward for prompt A, MSE against `target` (out_sample read back), backward to every LoRA factor. */
export async function trainingStep(ctx: GpuContext, setup: TrainingSetup, target: Float32Array): Promise<{ loss: number; grads: GpuTensor[]; stats: ChainStepStats }> {
  const { given, made } = promptAInputs(ctx, setup);
  const pass = setup.chain.forward(given);
  const out = pass.values.get('out_sample')!;
  const outData = await ctx.read(out);
  const n = outData.length;
  let loss = 0;
  const seedData = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const d = outData[j] - target[j];
    loss += (d * d) / n;
    seedData[j] = (2 * d) / n;
  }
  const seed = ctx.upload(seedData, out.shape);
  const kvGrads = pass.backward(new Map([['out_sample', seed]]), setup.layers.map((l) => l.name));
  const grads: GpuTensor[] = [];
  for (const { name, lora } of setup.layers) {
    const dKv = kvGrads.get(name);
    if (!dKv) throw new Error(`training step: no gradient reached ${name}`);
    const { da, db } = loraBackward(ctx, setup.promptA, dKv, lora);
    grads.push(da, db);
  }
  for (const t of [seed, ...kvGrads.values(), ...made]) t.release();
  return { loss, grads, stats: pass.stats };
}

export interface KvLoraFitReport {
  losses: number[];
  seconds: number;
  /** Highest step peak (bytes above the step's baseline). */
  peakBytes: number;
  mode: ChainStepStats['mode'];
  segments: number[];
}

/** `steps` Adam steps fitting all attn2 K/V LoRAs so that prompt A's output approaches prompt B's. */
export async function fitKvLora(ctx: GpuContext, setup: TrainingSetup, options: { steps: number; learningRate: number; maxGradNorm?: number }, log: (line: string) => void = () => {}): Promise<KvLoraFitReport> {
  const target = await targetOutput(ctx, setup);
  const adam = new Adam(ctx, setup.layers.flatMap((l) => [l.lora.a, l.lora.b]), { learningRate: options.learningRate, maxGradNorm: options.maxGradNorm ?? 1 });
  const losses: number[] = [];
  let peakBytes = 0;
  let stats: ChainStepStats | undefined;
  const started = performance.now();
  try {
    for (let step = 0; step < options.steps; step++) {
      const result = await trainingStep(ctx, setup, target);
      adam.step(result.grads);
      for (const g of result.grads) g.release();
      losses.push(result.loss);
      peakBytes = Math.max(peakBytes, result.stats.peakBytes);
      stats = result.stats;
      if (step % 10 === 0 || step === options.steps - 1) log(`step ${step}: loss ${result.loss.toExponential(3)}`);
    }
    await ctx.sync();
  } finally {
    adam.dispose();
  }
  return { losses, seconds: (performance.now() - started) / 1000, peakBytes, mode: stats?.mode ?? setup.chain.mode, segments: stats?.segments ?? [] };
}
