/**
 * The forge writes tiny SD exports in the real layout: files, I/O names and shapes, torch.onnx
 * node naming, transposed anonymous MatMul weights for all 32 attn2 to_k/to_v, only the ops real
 * exports use, seeded determinism, and models onnxruntime-node runs with non-degenerate outputs.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeModel } from '../../src/formats/onnx/codec.ts';
import { DataLocation, TensorDataType, type ModelProto } from '../../src/formats/onnx/types.ts';
import { forgeInMemory, type ForgeSummary } from '../../src/model/forge/forge.ts';
import { forge } from '../../src/model/forge/forge-to-directory.ts';
import { InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { toHalf, fromHalf } from '../../src/util/half.ts';

const ALLOWED_OPS = new Set([
  'Add', 'ArgMax', 'Cast', 'Concat', 'Constant', 'Conv', 'Cos', 'Div', 'Erf', 'Exp', 'Expand', 'Gather', 'Gemm',
  'InstanceNormalization', 'LayerNormalization', 'Less', 'MatMul', 'Mul', 'Pow', 'Range', 'ReduceMean', 'Reshape',
  'Resize', 'Shape', 'Sigmoid', 'Sin', 'Slice', 'Softmax', 'Sqrt', 'Sub', 'Transpose', 'Unsqueeze', 'Where',
]);

const EXPECTED_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'text_encoder/config.json',
  'text_encoder/model.onnx',
  'unet/config.json',
  'unet/model.onnx',
  'unet/model.onnx_data',
  'vae_decoder/config.json',
  'vae_decoder/model.onnx',
];

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const work = mkdtempSync(join(tmpdir(), 'lethe-forge-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function stats(values: ArrayLike<number>): { finite: boolean; std: number } {
  let sum = 0;
  let sq = 0;
  let finite = true;
  for (let i = 0; i < values.length; i++) {
    finite &&= Number.isFinite(values[i]);
    sum += values[i];
    sq += values[i] * values[i];
  }
  const mean = sum / values.length;
  return { finite, std: Math.sqrt(Math.max(0, sq / values.length - mean * mean)) };
}

function relativeChange(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += a[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function dims(model: ModelProto, io: 'input' | 'output', name: string): (number | string)[] {
  const value = model.graph[io].find((v) => v.name === name);
  if (!value) throw new Error(`no ${io} ${name}`);
  return (value.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam ?? d.dimValue ?? '?');
}
const elemType = (model: ModelProto, name: string): number | undefined =>
  [...model.graph.input, ...model.graph.output].find((v) => v.name === name)?.type?.tensorType?.elemType;

interface Forged {
  dir: string;
  summary: ForgeSummary;
  models: Record<'text_encoder' | 'unet' | 'vae_decoder', ModelProto>;
}

async function forgeTo(preset: 'tiny-sd15' | 'tiny-sd21', dtype: 'fp32' | 'fp16', opset: 14 | 17 = 14): Promise<Forged> {
  const dir = join(work, `${preset}-${dtype}-${opset}`);
  const summary = await forge({ preset, seed: 1, dtype, opset, outDir: dir });
  const load = (c: string): ModelProto => decodeModel(new Uint8Array(readFileSync(join(dir, c, 'model.onnx'))), `${c}/model.onnx`);
  return { dir, summary, models: { text_encoder: load('text_encoder'), unet: load('unet'), vae_decoder: load('vae_decoder') } };
}

/** A BOS, some word ids, EOS, EOS padding: like a tokenized prompt. */
function promptIds(seed: number, vocab: number, bos: number, eos: number): Int32Array {
  const random = new SeededRandom(seed);
  return Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? bos : i < 7 ? Math.floor(random.uniform() * (vocab - 2)) : eos));
}

describe.each(['tiny-sd15', 'tiny-sd21'] as const)('%s (fp32, opset 14)', (preset) => {
  let forged: Forged;
  beforeAll(async () => {
    forged = await forgeTo(preset, 'fp32');
  });

  test('writes the export layout, matching the in-memory variant byte for byte', async () => {
    expect(forged.summary.files.map((f) => f.path).sort()).toEqual([...EXPECTED_FILES].sort());
    const { files } = await forgeInMemory({ preset, seed: 1 });
    expect([...files.keys()].sort()).toEqual([...EXPECTED_FILES].sort());
    for (const [path, bytes] of files) expect(sha256(bytes), path).toBe(sha256(readFileSync(join(forged.dir, path))));
    const scheduler = JSON.parse(readFileSync(join(forged.dir, 'scheduler/scheduler_config.json'), 'utf8'));
    expect(scheduler).toMatchObject({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', steps_offset: 1, set_alpha_to_one: false });
    expect(scheduler.prediction_type).toBe(preset === 'tiny-sd21' ? 'v_prediction' : 'epsilon');
    const index = JSON.parse(readFileSync(join(forged.dir, 'model_index.json'), 'utf8'));
    expect(index._class_name).toBe('OnnxStableDiffusionPipeline');
    expect(index.unet).toEqual(['diffusers', 'OnnxRuntimeModel']);
    const unetConfig = JSON.parse(readFileSync(join(forged.dir, 'unet/config.json'), 'utf8'));
    expect(unetConfig.use_linear_projection).toBe(preset === 'tiny-sd21');
    expect(unetConfig.cross_attention_dim).toBe(forged.summary.text.hiddenSize);
  });

  test('real I/O names, types and dynamic dims', () => {
    const { text_encoder: text, unet, vae_decoder: vae } = forged.models;
    const d = forged.summary.text.hiddenSize;
    expect(text.graph.input.map((v) => v.name)).toEqual(['input_ids']);
    expect(elemType(text, 'input_ids')).toBe(TensorDataType.INT32);
    expect(text.graph.output.map((v) => v.name)).toEqual(['last_hidden_state', 'pooler_output']);
    expect(dims(text, 'output', 'last_hidden_state')).toEqual(['batch_size', 'sequence_length', d]);
    expect(unet.graph.input.map((v) => v.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(elemType(unet, 'timestep')).toBe(TensorDataType.INT64);
    expect(dims(unet, 'input', 'sample')).toEqual(['batch_size', 'num_channels', 'height', 'width']);
    expect(dims(unet, 'input', 'encoder_hidden_states')).toEqual(['batch_size', 'sequence_length', d]);
    expect(unet.graph.output.map((v) => v.name)).toEqual(['out_sample']);
    expect(vae.graph.input.map((v) => v.name)).toEqual(['latent_sample']);
    expect(vae.graph.output.map((v) => v.name)).toEqual(['sample']);
  });

  test('all 32 attn2 to_k/to_v MatMuls by module path, weights transposed onnx::MatMul_* in model.onnx_data', () => {
    const { unet } = forged.models;
    const initializers = new Map(unet.graph.initializer.map((t) => [t.name, t]));
    const names = unet.graph.node.filter((n) => /\/attn2\/to_[kv]\/MatMul$/.test(n.name ?? ''));
    expect(names).toHaveLength(32);
    expect(forged.summary.crossAttention).toHaveLength(16);
    for (const layer of forged.summary.crossAttention) {
      const path = `/${layer.module.replace(/\.(?=(attentions|transformer_blocks|resnets)\b)/g, '/').replace(/\.attn2$/, '/attn2')}`;
      for (const projection of ['to_k', 'to_v']) {
        const node = unet.graph.node.find((n) => n.name === `${path}/${projection}/MatMul`);
        expect(node, `${path}/${projection}/MatMul`).toBeDefined();
        const weight = initializers.get(node!.input[1]);
        expect(weight?.name).toMatch(/^onnx::MatMul_\d+$/);
        expect(weight?.dims).toEqual([forged.summary.text.hiddenSize, layer.heads * layer.headDim]);
        expect(weight?.dataLocation).toBe(DataLocation.EXTERNAL);
        expect(weight?.externalData?.find((e) => e.key === 'location')?.value).toBe('model.onnx_data');
      }
    }
    expect(names.map((n) => n.name)).toContain('/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul');
    expect(names.map((n) => n.name)).toContain('/up_blocks.3/attentions.2/transformer_blocks.0/attn2/to_v/MatMul');
    // Heads per block: SD 2.x varies them, SD 1.x does not.
    const heads = new Set(forged.summary.crossAttention.map((l) => l.heads));
    expect(heads.size > 1).toBe(preset === 'tiny-sd21');
  });

  test('torch.onnx naming and op decomposition; no op real exports lack', () => {
    const { unet, text_encoder: text, vae_decoder: vae } = forged.models;
    for (const model of [unet, text, vae]) {
      const ops = new Set(model.graph.node.map((n) => n.opType));
      expect([...ops].filter((op) => !ALLOWED_OPS.has(op))).toEqual([]);
      expect(ops.has('LayerNormalization')).toBe(false); // opset 14: ReduceMean chain
      for (const node of model.graph.node) expect(node.name).toMatch(/^(\/[\w.]+)+$/);
    }
    const nodeNames = new Set(unet.graph.node.map((n) => n.name));
    for (const name of ['/time_proj/Exp', '/time_proj/Sin', '/time_proj/Cos', '/time_embedding/linear_1/Gemm', '/down_blocks.0/resnets.0/norm1/InstanceNormalization',
      '/down_blocks.0/resnets.0/conv1/Conv', '/down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax', '/up_blocks.0/upsamplers.0/Resize',
      '/down_blocks.0/attentions.0/transformer_blocks.0/ff/net.0/Erf', '/mid_block/attentions.0/transformer_blocks.0/attn1/to_q/MatMul'])
      expect(nodeNames.has(name), name).toBe(true);
    expect(nodeNames.has(preset === 'tiny-sd21' ? '/down_blocks.0/attentions.0/proj_in/MatMul' : '/down_blocks.0/attentions.0/proj_in/Conv')).toBe(true);
    const conv = unet.graph.node.find((n) => n.name === '/down_blocks.0/resnets.0/conv1/Conv');
    expect(conv?.input[1]).toBe('down_blocks.0.resnets.0.conv1.weight');
    const toOut = unet.graph.node.find((n) => n.name === '/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/Add');
    expect(toOut?.input[0]).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.bias');
    expect(vae.graph.node.some((n) => n.name === '/decoder/mid_block/attentions.0/to_q/MatMul')).toBe(true);
    expect(text.graph.node.some((n) => n.name === `/text_model/encoder/layers.${forged.summary.text.layers - 1}/self_attn/k_proj/MatMul`)).toBe(true);
  });

  test('runs in onnxruntime-node with finite, non-degenerate outputs; the UNet depends on the text states', async () => {
    const { summary, dir } = forged;
    const text = await ort.InferenceSession.create(join(dir, 'text_encoder/model.onnx'));
    const ids = [promptIds(1, summary.text.vocabSize, summary.text.bosTokenId, summary.text.eosTokenId), promptIds(2, summary.text.vocabSize, summary.text.bosTokenId, summary.text.eosTokenId)];
    const batch = new Int32Array(2 * 77);
    batch.set(ids[0], 0);
    batch.set(ids[1], 77);
    const encoded = await text.run({ input_ids: new ort.Tensor('int32', batch, [2, 77]) });
    const d = summary.text.hiddenSize;
    expect(encoded.last_hidden_state.dims).toEqual([2, 77, d]);
    expect(encoded.pooler_output.dims).toEqual([2, d]);
    const hidden = encoded.last_hidden_state.data as Float32Array;
    const hiddenStats = stats(hidden);
    expect(hiddenStats.finite).toBe(true);
    expect(hiddenStats.std).toBeGreaterThan(0.3);
    // pooler_output is last_hidden_state at the EOS (largest id) position: index 7.
    expect(Array.from(encoded.pooler_output.data as Float32Array).slice(0, d)).toEqual(Array.from(hidden.subarray(7 * d, 8 * d)));
    expect(relativeChange(hidden.subarray(0, 77 * d), hidden.subarray(77 * d))).toBeGreaterThan(0.1);

    const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'));
    const sample = new SeededRandom(3).normalArray(4 * 8 * 8);
    const feeds = (states: Float32Array) => ({
      sample: new ort.Tensor('float32', sample, [1, 4, 8, 8]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([981n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', states, [1, 77, d]),
    });
    const start = performance.now();
    const a = (await unet.run(feeds(hidden.slice(0, 77 * d)))).out_sample;
    const unetMs = performance.now() - start;
    const b = (await unet.run(feeds(hidden.slice(77 * d)))).out_sample;
    expect(a.dims).toEqual([1, 4, 8, 8]);
    const outStats = stats(a.data as Float32Array);
    expect(outStats.finite).toBe(true);
    expect(outStats.std).toBeGreaterThan(0.1);
    expect(relativeChange(a.data as Float32Array, b.data as Float32Array)).toBeGreaterThan(0.01);
    // Different latent sizes work: height/width are dynamic.
    const wide = await unet.run({ ...feeds(hidden.slice(0, 77 * d)), sample: new ort.Tensor('float32', new SeededRandom(4).normalArray(4 * 8 * 16), [1, 4, 8, 16]) });
    expect(wide.out_sample.dims).toEqual([1, 4, 8, 16]);

    const vae = await ort.InferenceSession.create(join(dir, 'vae_decoder/model.onnx'));
    const image = (await vae.run({ latent_sample: new ort.Tensor('float32', a.data as Float32Array, [1, 4, 8, 8]) })).sample;
    expect(image.dims).toEqual([1, 3, 64, 64]);
    const imageStats = stats(image.data as Float32Array);
    expect(imageStats.finite).toBe(true);
    expect(imageStats.std).toBeGreaterThan(0.05);
    console.info(`${preset}: UNet step ${unetMs.toFixed(1)} ms (1x4x8x8, ORT CPU)`);
  });
});

describe('determinism and options', () => {
  test('the same seed gives the same bytes, another seed other weights', async () => {
    const hashes = async (seed: number) => {
      const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed });
      return new Map([...files].map(([path, bytes]) => [path, sha256(bytes)]));
    };
    const [first, again, other] = [await hashes(11), await hashes(11), await hashes(12)];
    expect(again).toEqual(first);
    for (const path of ['text_encoder/model.onnx', 'unet/model.onnx_data', 'vae_decoder/model.onnx']) expect(other.get(path), path).not.toBe(first.get(path));
    expect(other.get('tokenizer/vocab.json')).toBe(first.get('tokenizer/vocab.json'));
  });

  test('fp16 export: FLOAT16 weights and I/O, runs in onnxruntime-node', async () => {
    const forged = await forgeTo('tiny-sd15', 'fp16');
    const { unet } = forged.models;
    expect(elemType(unet, 'sample')).toBe(TensorDataType.FLOAT16);
    expect(elemType(unet, 'timestep')).toBe(TensorDataType.INT64);
    expect(unet.graph.initializer.every((t) => t.dataType === TensorDataType.FLOAT16)).toBe(true);
    expect(unet.graph.node.some((n) => n.opType === 'Cast')).toBe(true);
    const d = forged.summary.text.hiddenSize;
    const session = await ort.InferenceSession.create(join(forged.dir, 'unet/model.onnx'));
    const run = async (seed: number) =>
      (
        await session.run({
          sample: new ort.Tensor('float16', toHalf(new SeededRandom(5).normalArray(4 * 64)), [1, 4, 8, 8]),
          timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
          encoder_hidden_states: new ort.Tensor('float16', toHalf(new SeededRandom(seed).normalArray(77 * d)), [1, 77, d]),
        })
      ).out_sample;
    const out = await run(6);
    expect(out.type).toBe('float16');
    const values = fromHalf(out.data as Uint16Array);
    expect(stats(values).finite).toBe(true);
    expect(stats(values).std).toBeGreaterThan(0.1);
    expect(relativeChange(values, fromHalf((await run(7)).data as Uint16Array))).toBeGreaterThan(0.01);
    const text = await ort.InferenceSession.create(join(forged.dir, 'text_encoder/model.onnx'));
    const encoded = await text.run({ input_ids: new ort.Tensor('int32', promptIds(1, forged.summary.text.vocabSize, forged.summary.text.bosTokenId, forged.summary.text.eosTokenId), [1, 77]) });
    expect(stats(fromHalf(encoded.last_hidden_state.data as Uint16Array)).finite).toBe(true);
  });

  test('opset 17: LayerNormalization instead of the ReduceMean chain', async () => {
    const { files, summary } = await forgeInMemory({ preset: 'tiny-sd21', seed: 1, opset: 17 });
    const text = decodeModel(files.get('text_encoder/model.onnx')!, 'text_encoder/model.onnx');
    expect(text.opsetImport[0].version).toBe(17);
    const ops = new Set(text.graph.node.map((n) => n.opType));
    expect(ops.has('LayerNormalization') && !ops.has('ReduceMean')).toBe(true);
    const session = await ort.InferenceSession.create(files.get('text_encoder/model.onnx')!);
    const out = await session.run({ input_ids: new ort.Tensor('int32', promptIds(1, summary.text.vocabSize, summary.text.bosTokenId, summary.text.eosTokenId), [1, 77]) });
    expect(stats(out.last_hidden_state.data as Float32Array).finite).toBe(true);
  });

  test('bad options are refused with a clear error', async () => {
    await expect(forgeInMemory({ preset: 'tiny-sd3' as never, seed: 1 })).rejects.toThrow(InputError);
    await expect(forgeInMemory({ preset: 'tiny-sd15', seed: -1 })).rejects.toThrow(/seed/);
    await expect(forgeInMemory({ preset: 'tiny-sd15', seed: 1, dtype: 'bf16' as never })).rejects.toThrow(/dtype/);
  });
});
