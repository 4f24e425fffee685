import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeModel } from '../../src/formats/onnx/codec.ts';
import { consumers } from '../../src/formats/onnx/graph.ts';
import { readSafetensors } from '../../src/formats/safetensors/index.ts';
import { runConvertCli } from '../../src/cli/convert-folder.ts';
import { convertExport, MemorySink, type ConvertProgress, type PiecePlan } from '../../src/model/converter/index.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { forge } from '../../src/model/forge/forge-to-directory.ts';
import { forgeInMemory, type ForgeSummary } from '../../src/model/forge/forge.ts';
import { MANIFEST_FILE, parseManifest, type PackManifest } from '../../src/model/manifest.ts';
import { float32ToHalfBits, halfBitsToFloat32 } from '../../src/util/half.ts';
import { evalDim, fixedInputs, maxAbs, maxAbsDiff, runPack, runUnsplit, writeTree, type UnetInputs } from './converter-fixtures.ts';

type Preset = 'tiny-sd15' | 'tiny-sd21';
type Dtype = 'fp32' | 'fp16';

interface Forged {
  files: Map<string, Uint8Array>;
  summary: ForgeSummary;
  dir: string;
  remove: () => Promise<void>;
}

const forged = new Map<string, Forged>();
async function forgedExport(preset: Preset, dtype: Dtype): Promise<Forged> {
  const key = `${preset}/${dtype}`;
  let entry = forged.get(key);
  if (!entry) {
    const { files, summary } = await forgeInMemory({ preset, seed: 11, dtype });
    entry = { files, summary, ...(await writeTree(files)) };
    forged.set(key, entry);
  }
  return entry;
}

afterAll(async () => {
  for (const entry of forged.values()) await entry.remove();
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** fp16 exports take fp16 embeddings: round them, so that both paths start from the same values. */
function roundedForFp16(inputs: UnetInputs): UnetInputs {
  return { ...inputs, embedding: Float64Array.from(inputs.embedding, (v) => halfBitsToFloat32(float32ToHalfBits(v))) };
}

const cases: [Preset, Dtype, PiecePlan][] = [];
// Both families x both plans in fp32; fp16 (the same graph code, other element type) with the default plan.
for (const preset of ['tiny-sd15', 'tiny-sd21'] as const) {
  for (const plan of ['default', 'blocks'] as const) cases.push([preset, 'fp32', plan]);
  cases.push([preset, 'fp16', 'default']);
}

describe.each(cases)('%s %s, plan %s', (preset, dtype, plan) => {
  let source: Forged;
  let sink: MemorySink;
  let manifest: PackManifest;
  const progress: ConvertProgress[] = [];

  beforeAll(async () => {
    source = await forgedExport(preset, dtype);
    sink = new MemorySink();
    manifest = await convertExport(new MemoryPackSource(source.files), sink, { plan, onProgress: (p) => progress.push(p) });
  });

  test('the pack predicts the same noise as the unsplit export', async () => {
    const base = fixedInputs(manifest.dims.textHidden);
    const inputs = dtype === 'fp16' ? roundedForFp16(base) : base;
    const pack = await writeTree(sink.files);
    try {
      const reference = await runUnsplit(source.dir, inputs, dtype === 'fp16');
      const chained = await runPack(pack.dir, sink.files, manifest, inputs);
      expect(chained.dims).toEqual(reference.dims);
      const diff = maxAbsDiff(chained.values, reference.values);
      const scale = maxAbs(reference.values);
      expect(scale).toBeGreaterThan(0.1); // a prediction that is not all zeros
      if (dtype === 'fp32') expect(diff).toBeLessThan(1e-5);
      // fp16: the export computes K = fp16(E W^T) itself while the pack gets K rounded from a
      // float64 product; the two differ by up to one fp16 rounding (2^-11 relative) per K/V
      // element, and the network (16 attention layers, softmax, GroupNorm) carries that through
      // as a few fp16 ulps of the output: allowed 8 ulps at the output's largest magnitude.
      else expect(diff).toBeLessThan(8 * 2 ** -11 * scale);
      console.log(`${preset} ${dtype} ${plan}: max |pack - export| = ${diff.toExponential(2)} (max |out| ${scale.toFixed(3)})`);

      // Every piece output has the shape the manifest says, for these sizes.
      const [batch, , height, width] = inputs.sampleDims;
      const bindings = { batch_size: batch, height, width, num_channels: 4, steps: batch };
      for (const piece of manifest.pieces)
        for (const output of piece.outputs) expect(output.shape.map((d) => evalDim(d, bindings)), `${piece.name}: ${output.name}`).toEqual([...chained.outputs.get(output.name)!]);
    } finally {
      await pack.remove();
    }
  });

  test('the manifest parses, names every file with its sha256 and size, and describes the layers', () => {
    const text = new TextDecoder().decode(sink.files.get(MANIFEST_FILE)!);
    const parsed = parseManifest(text, MANIFEST_FILE);
    expect(parsed).toEqual(manifest);
    expect(parsed.family).toBe(preset);
    expect(parsed.dtype).toBe(dtype);
    const written = [...sink.files.keys()].filter((p) => p !== MANIFEST_FILE).sort();
    expect(Object.keys(parsed.files).sort()).toEqual(written);
    for (const path of written) {
      const bytes = sink.files.get(path)!;
      expect(parsed.files[path], path).toEqual({ sha256: sha256(bytes), bytes: bytes.byteLength });
    }

    const forgedLayers = source.summary.crossAttention;
    expect(parsed.crossAttention).toHaveLength(16);
    expect(parsed.crossAttention.map((l) => l.module)).toEqual(forgedLayers.map((l) => l.module));
    expect(parsed.crossAttention[0].module).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn2');
    expect(parsed.crossAttention[6].module).toBe('mid_block.attentions.0.transformer_blocks.0.attn2');
    expect(parsed.crossAttention[15].module).toBe('up_blocks.3.attentions.2.transformer_blocks.0.attn2');
    const textHidden = source.summary.text.hiddenSize;
    expect(parsed.dims.textHidden).toBe(textHidden);
    parsed.crossAttention.forEach((layer, i) => {
      const inner = forgedLayers[i].heads * forgedLayers[i].headDim;
      expect(layer.heads).toBe(forgedLayers[i].heads);
      expect(layer.toK).toEqual({ name: `${layer.module}.to_k.weight`, shape: [inner, textHidden] });
      expect(layer.toV).toEqual({ name: `${layer.module}.to_v.weight`, shape: [inner, textHidden] });
      const piece = parsed.pieces.find((p) => p.name === layer.piece)!;
      expect(piece.inputs.find((t) => t.name === `k_${i}`)).toEqual({ name: `k_${i}`, shape: ['batch_size', 77, inner], dtype: dtype === 'fp32' ? 'float32' : 'float16' });
    });

    const weights = readSafetensors(sink.files.get(parsed.crossAttentionWeights)!, parsed.crossAttentionWeights);
    expect(weights.tensors.size).toBe(32);
    for (const layer of parsed.crossAttention)
      for (const p of [layer.toK, layer.toV]) expect(weights.tensors.get(p.name), p.name).toMatchObject({ dtype: dtype === 'fp32' ? 'F32' : 'F16', shape: p.shape });

    const pieceNames = plan === 'default'
      ? ['down', 'mid', 'up']
      : ['down_blocks.0', 'down_blocks.1', 'down_blocks.2', 'down_blocks.3', 'mid_block', 'up_blocks.0', 'up_blocks.1', 'up_blocks.2', 'up_blocks.3'];
    expect(parsed.pieces.map((p) => p.name)).toEqual(pieceNames);
    expect(parsed.pieces[0].inputs.slice(0, 2).map((t) => t.name)).toEqual(['sample', 'timestep']);
    expect(parsed.pieces.at(-1)!.outputs.map((t) => t.name)).toEqual(['out_sample']);
    expect(parsed.pieces.flatMap((p) => p.inputs).some((t) => t.name === 'encoder_hidden_states')).toBe(false);
    expect(parsed.meta?.encoderHiddenStates).toMatch(/^unused/);
    for (const piece of parsed.pieces) {
      // No integer shape tensors cross pieces; only activations and the time embedding do.
      for (const t of [...piece.inputs, ...piece.outputs]) if (t.name !== 'timestep') expect(t.dtype, `${piece.name}: ${t.name}`).toBe(dtype === 'fp32' ? 'float32' : 'float16');
      const graph = decodeModel(sink.files.get(piece.file)!, piece.file).graph;
      expect(graph.node.some((n) => /attn2\/to_[kv]\/MatMul$/.test(n.name ?? ''))).toBe(false);
      expect(consumers(graph).has('encoder_hidden_states')).toBe(false);
      expect(piece.externalData).toEqual([`${piece.file}.data`]);
    }
    expect(progress.at(-1)).toMatchObject({ stage: 'write' });
    expect(progress.at(-1)!.filesDone).toBe(progress.at(-1)!.filesTotal);
  });
});

describe('Node directories', () => {
  test('runConvertCli over a forged directory writes the same bytes as the in-memory conversion', async () => {
    const exportTree = await writeTree(new Map());
    const packTree = await writeTree(new Map());
    try {
      await forge({ preset: 'tiny-sd21', seed: 11, outDir: exportTree.dir });
      const manifest = await runConvertCli(exportTree.dir, packTree.dir);
      const memory = new MemorySink();
      await convertExport(new MemoryPackSource((await forgedExport('tiny-sd21', 'fp32')).files), memory);
      const onDisk = new Map<string, Uint8Array>();
      const walk = async (dir: string): Promise<void> => {
        for (const entry of await readdir(dir)) {
          const path = join(dir, entry);
          if ((await stat(path)).isDirectory()) await walk(path);
          else onDisk.set(relative(packTree.dir, path).split('\\').join('/'), new Uint8Array(await readFile(path)));
        }
      };
      await walk(packTree.dir);
      expect([...onDisk.keys()].sort()).toEqual([...memory.files.keys()].sort());
      for (const [path, bytes] of memory.files) expect(sha256(onDisk.get(path)!), path).toBe(sha256(bytes));
      expect(manifest.family).toBe('tiny-sd21');
    } finally {
      await exportTree.remove();
      await packTree.remove();
    }
  });
});
