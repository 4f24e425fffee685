import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { readSafetensors, tensorToFloat32, writeSafetensors, type SafetensorsWriteTensor } from '../../src/formats/safetensors/index.ts';
import { convertExport, MemorySink } from '../../src/model/converter/index.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { buildPackFromDiffusers, type DiffusersPackOptions } from '../../src/model/diffusers/build-pack.ts';
import { parsePackArgs, runPackCli } from '../../src/cli/commands/pack.ts';
import { forge } from '../../src/model/forge/forge-to-directory.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import type { PackManifest } from '../../src/model/manifest.ts';
import { float32ToBfloat16Bits } from '../../src/formats/safetensors/index.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { fixedInputs, maxAbs, maxAbsDiff, runPack, writeTree } from './converter-fixtures.ts';

const SEED = 11;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

interface BuiltPack {
  files: Map<string, Uint8Array>;
  manifest: PackManifest;
  dir: string;
}

async function packFrom(files: ReadonlyMap<string, Uint8Array>, diffusers: boolean, options: DiffusersPackOptions = {}): Promise<BuiltPack> {
  const sink = new MemorySink();
  const manifest = diffusers ? await buildPackFromDiffusers(new MemoryPackSource(files), sink, options) : await convertExport(new MemoryPackSource(files), sink);
  const tree = await writeTree(sink.files);
  cleanups.push(tree.remove);
  return { files: sink.files, manifest, dir: tree.dir };
}

async function runModel(dir: string, file: string, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(dir, ...file.split('/')));
  try {
    return (await session.run(feeds))[output].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Text embedding, noise prediction (pieces chained, K/V from cross_attention.safetensors) and decoded image of a pack. */
async function outputsOf(pack: BuiltPack, vocabSize: number) {
  const rng = new SeededRandom(5);
  const ids = Int32Array.from({ length: 2 * 77 }, () => Math.floor(rng.uniform() * vocabSize));
  const embedding = await runModel(pack.dir, pack.manifest.textEncoder.file, { input_ids: new ort.Tensor('int32', ids, [2, 77]) }, 'last_hidden_state');
  const inputs = fixedInputs(pack.manifest.dims.textHidden);
  inputs.embedding = Float64Array.from(embedding);
  const noise = await runPack(pack.dir, pack.files, pack.manifest, inputs);
  const latent = new ort.Tensor('float32', rng.normalArray(1 * 4 * 4 * 4), [1, 4, 4, 4]);
  const image = await runModel(pack.dir, pack.manifest.vaeDecoder.file, { latent_sample: latent }, 'sample');
  return { embedding, noise: noise.values, image };
}

function rewriteSafetensors(
  bytes: Uint8Array,
  edit: (tensors: Map<string, SafetensorsWriteTensor>) => void,
): Uint8Array {
  const file = readSafetensors(bytes, 'edit');
  const tensors = new Map<string, SafetensorsWriteTensor>();
  for (const [name, t] of file.tensors) tensors.set(name, { dtype: 'F32', shape: t.shape, data: tensorToFloat32(t, 'edit') });
  edit(tensors);
  return writeSafetensors(tensors, file.metadata);
}

const UNET_WEIGHTS = 'unet/diffusion_pytorch_model.safetensors';

describe.each(['tiny-sd15', 'tiny-sd21'] as const)('%s: pack from the diffusers layout', (preset) => {
  test('matches the pack converted from the ONNX export of the same seed (text, noise, image)', async () => {
    const [diffusers, onnx] = await Promise.all([
      forgeInMemory({ preset, seed: SEED, layout: 'diffusers' }),
      forgeInMemory({ preset, seed: SEED }),
    ]);
    const fromDiffusers = await packFrom(diffusers.files, true);
    const fromOnnx = await packFrom(onnx.files, false);
    expect(fromDiffusers.manifest.family).toBe(preset);
    expect(fromDiffusers.manifest.dtype).toBe('fp32');
    expect(fromDiffusers.manifest.crossAttention).toEqual(fromOnnx.manifest.crossAttention);

    // The pack's K/V weights are the repo's attn2 weights, [out, in] as stored there.
    const repo = readSafetensors(diffusers.files.get(UNET_WEIGHTS)!, UNET_WEIGHTS);
    const kv = readSafetensors(fromDiffusers.files.get(fromDiffusers.manifest.crossAttentionWeights)!, 'cross_attention');
    for (const layer of fromDiffusers.manifest.crossAttention) {
      const name = layer.toK.name;
      expect(tensorToFloat32(kv.tensors.get(name)!, 'kv')).toEqual(tensorToFloat32(repo.tensors.get(name)!, 'repo'));
    }

    const vocab = diffusers.summary.text.vocabSize;
    const a = await outputsOf(fromDiffusers, vocab);
    const b = await outputsOf(fromOnnx, vocab);
    for (const [what, x, y] of [['embedding', a.embedding, b.embedding], ['noise', a.noise, b.noise], ['image', a.image, b.image]] as const) {
      expect(maxAbs(x), what).toBeGreaterThan(1e-3);
      expect(Array.from(x).every(Number.isFinite), what).toBe(true);
      expect(maxAbsDiff(x, y), what).toBeLessThan(1e-5);
    }
  }, 60_000);
});

describe('weights that do not fit the config', () => {
  const forged = forgeInMemory({ preset: 'tiny-sd15', seed: SEED, layout: 'diffusers' });
  const withUnet = async (edit: (tensors: Map<string, SafetensorsWriteTensor>) => void) => {
    const files = new Map((await forged).files);
    files.set(UNET_WEIGHTS, rewriteSafetensors(files.get(UNET_WEIGHTS)!, edit));
    return buildPackFromDiffusers(new MemoryPackSource(files), new MemorySink());
  };
  const missing = 'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight';

  test('a missing weight is an error naming it', async () => {
    const error = await withUnet((t) => t.delete(missing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(missing);
    expect((error as Error).message).toMatch(/missing/);
  });

  test('an unexpected weight is an error naming it', async () => {
    const extra = 'down_blocks.0.attentions.0.transformer_blocks.1.attn1.to_q.weight';
    const error = await withUnet((t) => t.set(extra, { dtype: 'F32', shape: [16, 16], data: new Float32Array(256) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(extra);
    expect((error as Error).message).toMatch(/unexpected/);
  });

  test('a wrong shape is an error naming the weight and both shapes', async () => {
    const name = 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight';
    const error = await withUnet((t) => {
      const w = t.get(name)!;
      t.set(name, { dtype: 'F32', shape: [w.shape[1], w.shape[0]], data: w.data });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(name);
    expect((error as Error).message).toContain('shape [32, 16], but the config implies [16, 32]');
  });

  test('a config the graphs do not implement is refused by field', async () => {
    const files = new Map((await forged).files);
    const config = JSON.parse(new TextDecoder().decode(files.get('unet/config.json')));
    files.set('unet/config.json', new TextEncoder().encode(JSON.stringify({ ...config, transformer_layers_per_block: 2 })));
    await expect(buildPackFromDiffusers(new MemoryPackSource(files), new MemorySink())).rejects.toThrow(/unet\/config\.json: transformer_layers_per_block/);
  });
});

describe('weight files and dtypes', () => {
  test('the .fp16 variant is preferred (fp16 pack), the main file on request (fp32 pack)', async () => {
    const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: SEED, layout: 'diffusers', fp16Variant: true });
    const auto = await buildPackFromDiffusers(new MemoryPackSource(files), new MemorySink());
    const main = await buildPackFromDiffusers(new MemoryPackSource(files), new MemorySink(), { variant: 'main' });
    expect(auto.dtype).toBe('fp16');
    expect(main.dtype).toBe('fp32');
  });

  test('bf16 weights are converted exactly; legacy VAE attention names are accepted', async () => {
    const { files } = await forgeInMemory({ preset: 'tiny-sd15', seed: SEED, layout: 'diffusers' });
    const rounded = new Map(files);
    const bf16 = new Map(files);
    for (const path of [UNET_WEIGHTS, 'text_encoder/model.safetensors', 'vae/diffusion_pytorch_model.safetensors']) {
      const source = readSafetensors(files.get(path)!, path);
      const asF32 = new Map<string, SafetensorsWriteTensor>();
      const asBf16 = new Map<string, SafetensorsWriteTensor>();
      const legacy = (name: string) => (path.startsWith('vae/') ? name.replace(/\.to_q\./, '.query.').replace(/\.to_k\./, '.key.').replace(/\.to_v\./, '.value.').replace(/\.to_out\.0\./, '.proj_attn.') : name);
      for (const [name, t] of source.tensors) {
        const bits = Uint16Array.from(tensorToFloat32(t, path), float32ToBfloat16Bits);
        asBf16.set(legacy(name), { dtype: 'BF16', shape: t.shape, data: bits });
        asF32.set(name, { dtype: 'F32', shape: t.shape, data: new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer) });
      }
      rounded.set(path, writeSafetensors(asF32));
      bf16.set(path, writeSafetensors(asBf16));
    }
    const a = new MemorySink();
    const b = new MemorySink();
    await buildPackFromDiffusers(new MemoryPackSource(bf16), a, { dtype: 'fp32' });
    await buildPackFromDiffusers(new MemoryPackSource(rounded), b);
    expect([...a.files.keys()].sort()).toEqual([...b.files.keys()].sort());
    for (const [path, bytes] of b.files) expect(Buffer.compare(Buffer.from(a.files.get(path)!), Buffer.from(bytes)), path).toBe(0);
  });
});

describe('lethe pack', () => {
  test('flags are checked', () => {
    expect(() => parsePackArgs(['--from', 'x'])).toThrow(/--out is required/);
    expect(() => parsePackArgs(['--from', 'x', '--out', 'y', '--dtype', 'int8'])).toThrow(/--dtype must be one of/);
    expect(() => parsePackArgs(['--from', 'x', '--out', 'y', '--bogus', '1'])).toThrow(/unknown argument/);
    expect(parsePackArgs(['--from', 'a/b', '--out', 'y', '--plan', 'blocks'])).toEqual({ '--from': 'a/b', '--out': 'y', '--plan': 'blocks' });
  });

  test('packs a forged repo folder into a pack folder', async () => {
    const repo = await writeTree(new Map());
    cleanups.push(repo.remove);
    await forge({ preset: 'tiny-sd21', seed: SEED, layout: 'diffusers', outDir: join(repo.dir, 'repo') });
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await runPackCli(['--from', join(repo.dir, 'repo'), '--out', join(repo.dir, 'pack')])).toBe(0);
    } finally {
      process.stderr.write = write;
    }
    const { readFile } = await import('node:fs/promises');
    const manifest = JSON.parse(await readFile(join(repo.dir, 'pack', 'manifest.json'), 'utf8')) as PackManifest;
    expect(manifest.family).toBe('tiny-sd21');
    expect(manifest.crossAttention).toHaveLength(16);
  });
});
