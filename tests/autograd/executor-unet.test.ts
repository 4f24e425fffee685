import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { decodeModel, encodeModel } from '../../src/formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../../src/formats/onnx/external-data.ts';
import type { ModelProto } from '../../src/formats/onnx/types.ts';
import { loadPieceGraph, type PieceGraph } from '../../src/autograd/executor.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { convertExport, MemorySink } from '../../src/model/converter/index.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import type { PackManifest } from '../../src/model/manifest.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testContext } from '../support/gpu.ts';
import { maxRelError } from '../support/reference.ts';
import { evalDim } from '../model/converter-fixtures.ts';

const ctx = await testContext();

interface Piece {
  name: string;
  model: ModelProto;
  bytes: Uint8Array;
  shapes: Record<string, number[]>;
  outputs: string[];
}

const forged = new Map<string, Promise<{ manifest: PackManifest; pieces: Piece[] }>>();
function forgedPieces(preset: 'tiny-sd15' | 'tiny-sd21'): Promise<{ manifest: PackManifest; pieces: Piece[] }> {
  let entry = forged.get(preset);
  if (!entry) forged.set(preset, (entry = forgeAndConvert(preset)));
  return entry;
}

async function forgeAndConvert(preset: 'tiny-sd15' | 'tiny-sd21'): Promise<{ manifest: PackManifest; pieces: Piece[] }> {
  const { files } = await forgeInMemory({ preset, seed: 11, dtype: 'fp32' });
  const sink = new MemorySink();
  const manifest = await convertExport(new MemoryPackSource(files), sink, { plan: 'default' });
  const bindings = { batch_size: 2, num_channels: 4, height: 16, width: 8, steps: 2 };
  const pieces: Piece[] = [];
  for (const piece of manifest.pieces) {
    const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
    const model = await inlineExternalData(decodeModel(sink.files.get(piece.file)!, piece.file), piece.file, (location) => externalDataFromBytes(sink.files.get(dir + location)!));
    pieces.push({
      name: piece.name,
      model,
      bytes: encodeModel(model),
      shapes: Object.fromEntries(piece.inputs.map((i) => [i.name, i.shape.map((d) => evalDim(d, bindings))])),
      outputs: piece.outputs.map((o) => o.name),
    });
  }
  return { manifest, pieces };
}

/** The fixed sample, timesteps and random K/V inputs every piece may read. */
function fixedInputs(pieces: Piece[]): Map<string, { data: Float32Array; dims: number[] }> {
  const rng = new SeededRandom(23);
  const values = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const piece of pieces)
    for (const [name, dims] of Object.entries(piece.shapes)) {
      if (values.has(name) || !(name === 'sample' || name === 'timestep' || /^[kv]_\d+$/.test(name))) continue;
      const size = dims.reduce((a, b) => a * b, 1);
      values.set(name, { data: name === 'timestep' ? Float32Array.from([500, 21]) : rng.normalArray(size), dims });
    }
  return values;
}

async function runOrtPiece(piece: Piece, values: Map<string, { data: Float32Array; dims: number[] }>): Promise<Map<string, { data: Float32Array; dims: number[] }>> {
  const session = await ort.InferenceSession.create(piece.bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of Object.keys(piece.shapes)) {
      const v = values.get(name)!;
      feeds[name] = name === 'timestep' ? new ort.Tensor('int64', BigInt64Array.from(v.data, (t) => BigInt(t)), v.dims) : new ort.Tensor('float32', v.data, v.dims);
    }
    const result = await session.run(feeds);
    return new Map(piece.outputs.map((name) => [name, { data: result[name].data as Float32Array, dims: [...result[name].dims] }]));
  } finally {
    await session.release();
  }
}

describe.each(['tiny-sd15', 'tiny-sd21'] as const)('%s UNet pieces', (preset) => {
  test('every piece, chained on the GPU, matches the same pieces chained in onnxruntime', async () => {
    const { pieces } = await forgedPieces(preset);
    expect(pieces.map((p) => p.name)).toEqual(['down', 'mid', 'up']);
    const reference = fixedInputs(pieces);
    const gpuValues = new Map<string, GpuTensor>([...reference].map(([name, v]) => [name, ctx.upload(v.data, v.dims)]));
    const graphs: PieceGraph[] = [];
    try {
      for (const piece of pieces) {
        const graph = loadPieceGraph(ctx, piece.model, piece.shapes, piece.name);
        graphs.push(graph);
        // Only compute ops remain: no shape arithmetic at run time.
        expect(graph.nodes.filter((n) => ['Shape', 'Gather', 'Constant', 'ConstantOfShape', 'Range', 'Equal'].includes(n.opType))).toEqual([]);
        const want = await runOrtPiece(piece, reference);
        // The chain: inputs are our previous pieces' outputs, never leaving the GPU; ORT's
        // are its own previous outputs, so each piece is compared on (nearly) equal inputs and
        // the last one checks the whole chained UNet.
        const chained = graph.forward(Object.fromEntries(Object.keys(piece.shapes).map((name) => [name, gpuValues.get(name)!])));
        for (const name of piece.outputs) {
          const w = want.get(name)!;
          expect(chained.outputs[name].shape).toEqual(w.dims);
          expect(maxRelError(await ctx.read(chained.outputs[name]), w.data), `${piece.name} ${name}`).toBeLessThan(1e-4);
          gpuValues.set(name, chained.outputs[name]);
          reference.set(name, w);
        }
      }
      // reference now holds ORT's chained values: compare the final noise prediction.
      const final = reference.get('out_sample')!;
      expect(final.dims).toEqual([2, 4, 16, 8]);
      expect(Math.max(...final.data.map(Math.abs))).toBeGreaterThan(0.1);
      expect(maxRelError(await ctx.read(gpuValues.get('out_sample')!), final.data)).toBeLessThan(1e-4);
    } finally {
      for (const t of new Set(gpuValues.values())) t.release();
      for (const g of graphs) g.release();
    }
  }, 180_000);
});

test('record keeps a tape entry per node with static shapes, and gives the same outputs', async () => {
  const { pieces } = await forgedPieces('tiny-sd15');
  const mid = pieces.find((p) => p.name === 'mid')!;
  const graph = loadPieceGraph(ctx, mid.model, mid.shapes, 'mid');
  const rng = new SeededRandom(3);
  const inputs = Object.fromEntries(Object.entries(mid.shapes).map(([name, dims]) => [name, ctx.upload(rng.normalArray(dims.reduce((a, b) => a * b, 1)), dims)]));
  try {
    await ctx.sync();
    const before = ctx.pool.snapshot().inUseBytes;
    const plain = graph.forward(inputs);
    // Without record only the outputs stay allocated: every intermediate went back to the pool.
    ctx.flush(); // uniform blocks return to the pool at submit
    const outputBytes = mid.outputs.reduce((sum, name) => sum + plain.outputs[name].byteLength, 0);
    expect(ctx.pool.snapshot().inUseBytes - before).toBeLessThan(outputBytes * 1.2 + 4096);
    const recorded = graph.forward(inputs, { record: true });
    expect(recorded.tape!.length).toBe(graph.nodes.length);
    for (const entry of recorded.tape!) {
      expect(entry.outputs.map((t) => t.shape)).toEqual(entry.node.outputShapes);
      entry.inputs.forEach((t, i) => expect(t ? t.shape : []).toEqual(entry.node.inputShapes[i]));
    }
    const name = mid.outputs[0];
    expect(await ctx.read(recorded.outputs[name])).toEqual(await ctx.read(plain.outputs[name]));
    plain.outputs[name].release();
    graph.releaseTape(recorded.tape!, [recorded.outputs[name]]);
    recorded.outputs[name].release();
    await ctx.sync();
    expect(ctx.pool.snapshot().inUseBytes).toBe(before);
  } finally {
    for (const t of Object.values(inputs)) t.release();
    graph.release();
  }
}, 180_000);
