import { createHash } from 'node:crypto';
import { serializeManifest, type PackManifest } from '../../src/model/manifest.ts';
import { SeededRandom } from '../../src/util/random.ts';

/**
 * A made-up pack for loader and manifest tests: a valid manifest (family tiny-sd15, two UNet
 * pieces, two cross-attention layers) over files of random bytes. The bytes are not real ONNX;
 * the loader never looks inside them. One file is empty and one is large enough to be cut
 * mid-download in several chunks.
 */
export interface TinyPack {
  manifest: PackManifest;
  manifestText: string;
  files: Map<string, Uint8Array>;
}

export const BIG_FILE = 'unet/down.onnx.data';
export const EMPTY_FILE = 'tokenizer/special_tokens_map.json';

export function randomBytes(rng: SeededRandom, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

export function sha256Node(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function tinyManifestFor(files: Map<string, Uint8Array>): PackManifest {
  const hidden = 32;
  const entries = Object.create(null) as PackManifest['files'];
  for (const [path, data] of files) entries[path] = { sha256: sha256Node(data), bytes: data.length };
  const kv = (i: number, width: number) => [
    { name: `k_${i}`, shape: ['batch', 77, width], dtype: 'float32' as const },
    { name: `v_${i}`, shape: ['batch', 77, width], dtype: 'float32' as const },
  ];
  return {
    format: 'lethe-pack',
    version: 1,
    family: 'tiny-sd15',
    dtype: 'fp32',
    dims: { textHidden: hidden, textTokens: 77, latentChannels: 4, unetChannels: [16, 32], vaeScale: 2, latentScalingFactor: 0.18215, sampleSize: 8 },
    textEncoder: {
      file: 'text_encoder/model.onnx',
      externalData: [],
      inputs: [{ name: 'input_ids', shape: ['batch', 77], dtype: 'int64' }],
      outputs: [{ name: 'last_hidden_state', shape: ['batch', 77, hidden], dtype: 'float32' }],
    },
    pieces: [
      {
        name: 'down',
        file: 'unet/down.onnx',
        externalData: [BIG_FILE],
        inputs: [
          { name: 'sample', shape: ['batch', 4, 8, 8], dtype: 'float32' },
          { name: 'timestep', shape: ['batch'], dtype: 'int64' },
          ...kv(0, 16),
        ],
        outputs: [{ name: 'down_0', shape: ['batch', 16, 4, 4], dtype: 'float32' }],
      },
      {
        name: 'up',
        file: 'unet/up.onnx',
        externalData: [],
        inputs: [{ name: 'down_0', shape: ['batch', 16, 4, 4], dtype: 'float32' }, ...kv(1, 32)],
        outputs: [{ name: 'out_sample', shape: ['batch', 4, 8, 8], dtype: 'float32' }],
      },
    ],
    vaeDecoder: {
      file: 'vae_decoder/model.onnx',
      externalData: [],
      inputs: [{ name: 'latent_sample', shape: ['batch', 4, 8, 8], dtype: 'float32' }],
      outputs: [{ name: 'sample', shape: ['batch', 3, 16, 16], dtype: 'float32' }],
    },
    tokenizer: { vocab: 'tokenizer/vocab.json', merges: 'tokenizer/merges.txt', specialTokens: EMPTY_FILE },
    scheduler: { config: 'scheduler/scheduler_config.json' },
    crossAttentionWeights: 'unet/cross_attention.safetensors',
    crossAttention: [
      {
        index: 0,
        module: 'down_blocks.0.attentions.0.transformer_blocks.0.attn2',
        toK: { name: 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight', shape: [16, hidden] },
        toV: { name: 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v.weight', shape: [16, hidden] },
        heads: 2,
        piece: 'down',
        kInput: 'k_0',
        vInput: 'v_0',
      },
      {
        index: 1,
        module: 'up_blocks.1.attentions.0.transformer_blocks.0.attn2',
        toK: { name: 'up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight', shape: [32, hidden] },
        toV: { name: 'up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v.weight', shape: [32, hidden] },
        heads: 4,
        piece: 'up',
        kInput: 'k_1',
        vInput: 'v_1',
      },
    ],
    files: entries,
    meta: { converter: 'tests/model/tiny-pack.ts' },
  };
}

export function makeTinyPack(seed = 1, bigBytes = 300_000): TinyPack {
  const rng = new SeededRandom(seed);
  const sizes: [string, number][] = [
    ['text_encoder/model.onnx', 5000],
    ['unet/down.onnx', 1234],
    [BIG_FILE, bigBytes],
    ['unet/up.onnx', 4321],
    ['unet/cross_attention.safetensors', 3000],
    ['vae_decoder/model.onnx', 2222],
    ['tokenizer/vocab.json', 300],
    ['tokenizer/merges.txt', 200],
    [EMPTY_FILE, 0],
    ['scheduler/scheduler_config.json', 150],
  ];
  const files = new Map<string, Uint8Array>();
  for (const [path, size] of sizes) files.set(path, randomBytes(rng, size));
  const manifest = tinyManifestFor(files);
  return { manifest, manifestText: serializeManifest(manifest), files };
}
