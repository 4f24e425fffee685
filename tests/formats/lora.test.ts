import { describe, expect, test } from 'vitest';
import { readLora } from '../../src/formats/lora/reader.ts';
import { writeLora } from '../../src/formats/lora/writer.ts';
import type { LoraLayerDelta } from '../../src/formats/lora/layer.ts';
import { readSafetensors } from '../../src/formats/safetensors/reader.ts';
import { tensorToFloat32 } from '../../src/formats/safetensors/elements.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../src/formats/safetensors/writer.ts';
import { FormatError, InputError, ShapeError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { mutateBytes } from '../support/mutate.ts';
import { SD_CROSS_ATTENTION_KV } from './lora-fixtures.ts';

const FILE = 'lora.safetensors';

/** W + scale * up @ down in float64. */
function applyF64(w: Float64Array, layer: { up: ArrayLike<number>; down: ArrayLike<number>; rank: number; inFeatures: number; outFeatures: number }, scale: number): Float64Array {
  const { rank, inFeatures: n, outFeatures: m } = layer;
  const out = Float64Array.from(w);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let r = 0; r < rank; r++) sum += layer.up[i * rank + r] * layer.down[r * n + j];
      out[i * n + j] += scale * sum;
    }
  return out;
}

/** max |a - b| / max |b - w|: error relative to the size of the update. */
function relativeToDelta(got: Float64Array, want: Float64Array, w: Float64Array): number {
  let err = 0;
  let size = 1e-30;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    size = Math.max(size, Math.abs(want[i] - w[i]));
  }
  return err / size;
}

function randomLayers(seed: number): LoraLayerDelta[] {
  const rng = new SeededRandom(seed);
  // Odd sizes; alpha = rank (scale 1), alpha = 1 (scale 1/rank), and a fractional alpha.
  const specs = [
    { module: SD_CROSS_ATTENTION_KV[0], rank: 3, inFeatures: 24, outFeatures: 16, alpha: 3 },
    { module: SD_CROSS_ATTENTION_KV[13], rank: 5, inFeatures: 24, outFeatures: 40, alpha: 1 },
    { module: SD_CROSS_ATTENTION_KV[31], rank: 1, inFeatures: 17, outFeatures: 9, alpha: 0.3 },
    { module: SD_CROSS_ATTENTION_KV[20], rank: 8, inFeatures: 33, outFeatures: 12, alpha: 16 },
  ];
  return specs.map((s) => ({ ...s, down: rng.normalArray(s.rank * s.inFeatures, 0.5), up: rng.normalArray(s.outFeatures * s.rank, 0.5) }));
}

describe('LoRA files', () => {
  test.each([
    ['diffusers', 'fp32', 1e-6],
    ['diffusers', 'fp16', 3e-3],
    ['kohya', 'fp32', 1e-6],
    ['kohya', 'fp16', 3e-3],
  ] as const)('%s %s: W + scale * up @ down from the file equals the original update', (convention, dtype, tolerance) => {
    const layers = randomLayers(convention.length * 10 + dtype.length);
    const read = readLora(writeLora(layers, { convention, dtype, metadata: { note: 'x' } }), FILE);
    expect(read.metadata).toEqual({ note: 'x' });
    expect(read.unsupported).toEqual([]);
    expect(read.fullDiffs).toEqual([]);
    expect(read.conventions).toEqual([convention]);
    expect(read.layers.map((l) => l.module)).toEqual(layers.map((l) => l.module));
    for (const [i, original] of layers.entries()) {
      const got = read.layers[i];
      expect([got.rank, got.inFeatures, got.outFeatures]).toEqual([original.rank, original.inFeatures, original.outFeatures]);
      // diffusers folds the scale into up, so the file's scale is 1; kohya keeps alpha.
      expect(got.alpha).toBeCloseTo(convention === 'diffusers' ? original.rank : original.alpha, 6);
      const w = new SeededRandom(i).normalArray64(original.outFeatures * original.inFeatures);
      const want = applyF64(w, original, original.alpha / original.rank);
      const fromFile = applyF64(w, got, got.alpha / got.rank);
      const error = relativeToDelta(fromFile, want, w);
      expect(error).toBeLessThan(tolerance);
      if (dtype === 'fp16') expect(error).toBeGreaterThan(1e-6); // it really went through float16
    }
  });

  test.each(['diffusers', 'kohya'] as const)('%s: every key, dtype and shape follows the convention', (convention) => {
    const layers = randomLayers(5);
    for (const dtype of ['fp16', 'fp32'] as const) {
      const file = readSafetensors(writeLora(layers, { convention, dtype }), FILE);
      const expected = new Map<string, { dtype: string; shape: number[] }>();
      const floatDtype = dtype === 'fp16' ? 'F16' : 'F32';
      for (const l of layers) {
        if (convention === 'diffusers') {
          expected.set(`unet.${l.module}.lora_A.weight`, { dtype: floatDtype, shape: [l.rank, l.inFeatures] });
          expected.set(`unet.${l.module}.lora_B.weight`, { dtype: floatDtype, shape: [l.outFeatures, l.rank] });
        } else {
          const base = `lora_unet_${l.module.split('.').join('_')}`;
          expected.set(`${base}.lora_down.weight`, { dtype: floatDtype, shape: [l.rank, l.inFeatures] });
          expected.set(`${base}.lora_up.weight`, { dtype: floatDtype, shape: [l.outFeatures, l.rank] });
          expected.set(`${base}.alpha`, { dtype: 'F32', shape: [] });
        }
      }
      expect(new Set(file.tensors.keys())).toEqual(new Set(expected.keys()));
      for (const [key, want] of expected) expect({ dtype: file.tensors.get(key)!.dtype, shape: file.tensors.get(key)!.shape }, key).toEqual(want);
      if (convention === 'kohya')
        for (const l of layers) expect(tensorToFloat32(file.tensors.get(`lora_unet_${l.module.split('.').join('_')}.alpha`)!, FILE)[0]).toBe(Math.fround(l.alpha));
      else if (dtype === 'fp32') {
        // lora_B holds up * alpha / rank; lora_A holds down unchanged.
        const l = layers[1];
        const b = tensorToFloat32(file.tensors.get(`unet.${l.module}.lora_B.weight`)!, FILE);
        expect(b[3]).toBe(Math.fround(l.up[3] * (l.alpha / l.rank)));
        expect(tensorToFloat32(file.tensors.get(`unet.${l.module}.lora_A.weight`)!, FILE)).toEqual(l.down);
      }
    }
  });

  test('reading a mixed third-party file: edited layers, full diffs, and everything else listed', () => {
    const rng = new SeededRandom(9);
    const t = (shape: number[], dtype: 'F32' | 'F16' | 'BF16' = 'F32'): SafetensorsWriteTensor => ({ dtype, shape, data: rng.normalArray(shape.reduce((a, b) => a * b, 1)) });
    const k = 'lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn2_to_k';
    const v = 'unet.up_blocks.2.attentions.0.transformer_blocks.0.attn2.to_v';
    const tensors: [string, SafetensorsWriteTensor][] = [
      ['lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', t([2, 8])],
      [`${k}.lora_down.weight`, t([2, 8], 'BF16')],
      [`${k}.lora_up.weight`, t([4, 2], 'BF16')],
      [`${k}.alpha`, { dtype: 'F16', shape: [], data: Float32Array.of(1) }],
      ['lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight', t([2, 4, 3, 3])],
      ['lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight', t([4, 2, 1, 1])],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight', t([2, 4])],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight', t([4, 2])],
      [`${v}.lora_A.weight`, t([3, 8], 'F16')],
      [`${v}.lora_B.weight`, t([5, 3], 'F16')],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.diff', t([4, 8])],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.diff_b', t([4])],
      ['lora_unet_conv_in.diff', t([4, 4, 3, 3])],
      ['some.other.key', t([1])],
    ];
    const source = new Map(tensors);
    const read = readLora(writeSafetensors(tensors, { ss_network_dim: '2' }), FILE);
    expect(read.conventions.sort()).toEqual(['diffusers', 'kohya']);
    expect(read.layers.map((l) => [l.module, l.rank, l.inFeatures, l.outFeatures, l.alpha])).toEqual([
      ['down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k', 2, 8, 4, 1],
      ['up_blocks.2.attentions.0.transformer_blocks.0.attn2.to_v', 3, 8, 5, 3],
    ]);
    expect(read.fullDiffs.map((d) => [d.module, d.outFeatures, d.inFeatures])).toEqual([['mid_block.attentions.0.transformer_blocks.0.attn2.to_k', 4, 8]]);
    expect(read.fullDiffs[0].diff).toEqual(source.get('lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.diff')!.data);
    expect(read.unsupported).toEqual([
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight',
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.diff_b',
      'lora_unet_conv_in.diff',
      'some.other.key',
    ]);
    expect(read.layers.length * 2 + 1 + 1 + read.unsupported.length).toBe(tensors.length); // nothing dropped
  });

  test('a kohya file without alpha has scale 1', () => {
    const k = 'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_v';
    const bytes = writeSafetensors([
      [`${k}.lora_down.weight`, { dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(1) }],
      [`${k}.lora_up.weight`, { dtype: 'F32', shape: [4, 2], data: new Float32Array(8).fill(1) }],
    ]);
    expect(readLora(bytes, FILE).layers[0].alpha).toBe(2);
  });

  describe('malformed files are FormatErrors naming the key', () => {
    const k = 'lora_unet_down_blocks_2_attentions_0_transformer_blocks_0_attn2_to_k';
    const f = (shape: number[], dtype: 'F32' | 'I32' = 'F32'): SafetensorsWriteTensor => {
      const n = shape.reduce((a, b) => a * b, 1);
      return dtype === 'F32' ? { dtype, shape, data: new Float32Array(n) } : { dtype, shape, data: new Int32Array(n) };
    };
    const fails = (tensors: [string, SafetensorsWriteTensor][], field: string, detail: RegExp) => {
      try {
        readLora(writeSafetensors(tensors), FILE);
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        expect((error as FormatError).file).toBe(FILE);
        expect((error as FormatError).field).toBe(field);
        expect((error as FormatError).detail).toMatch(detail);
        return;
      }
      throw new Error('expected a FormatError');
    };
    test('a down without an up, an up without a down, an alpha alone', () => {
      fails([[`${k}.lora_down.weight`, f([2, 8])]], `${k}.lora_down.weight`, /no up/);
      fails([[`${k}.lora_up.weight`, f([4, 2])], [`${k}.alpha`, f([])]], `${k}.lora_up.weight`, /no down/);
      fails([[`${k}.alpha`, f([])]], `${k}.alpha`, /no down/);
      fails([['unet.conv_in.lora_A.weight', f([2, 4, 3, 3])]], 'unet.conv_in.lora_A.weight', /no up/);
    });
    test('rank mismatch between up and down', () => {
      fails([[`${k}.lora_down.weight`, f([2, 8])], [`${k}.lora_up.weight`, f([4, 3])]], `${k}.lora_up.weight`, /rank 3 .* differs from rank 2/);
      fails(
        [['lora_unet_conv_in.lora_down.weight', f([2, 4, 3, 3])], ['lora_unet_conv_in.lora_up.weight', f([4, 3, 1, 1])]],
        'lora_unet_conv_in.lora_up.weight',
        /differs/,
      );
    });
    test('non-2-D, empty or integer factors of an edited module', () => {
      fails([[`${k}.lora_down.weight`, f([8])], [`${k}.lora_up.weight`, f([4, 2])]], `${k}.lora_down.weight`, /\[rank, in\]/);
      fails([[`${k}.lora_down.weight`, f([2, 8, 1, 1])], [`${k}.lora_up.weight`, f([4, 2, 1, 1])]], `${k}.lora_down.weight`, /2-D/);
      fails([[`${k}.lora_down.weight`, f([2, 0])], [`${k}.lora_up.weight`, f([4, 2])]], `${k}.lora_down.weight`, /no empty dimension/);
      fails([[`${k}.lora_down.weight`, f([2, 8], 'I32')], [`${k}.lora_up.weight`, f([4, 2])]], `${k}.lora_down.weight`, /float tensor/);
      fails([[`${k}.diff`, f([4, 8, 1])]], `${k}.diff`, /full difference/);
    });
    test('bad alpha', () => {
      const pair: [string, SafetensorsWriteTensor][] = [[`${k}.lora_down.weight`, f([2, 8])], [`${k}.lora_up.weight`, f([4, 2])]];
      fails([...pair, [`${k}.alpha`, f([2])]], `${k}.alpha`, /scalar/);
      fails([...pair, [`${k}.alpha`, { dtype: 'F32', shape: [], data: Float32Array.of(NaN) }]], `${k}.alpha`, /finite/);
    });
    test('one module under two keys', () => {
      fails(
        [[`${k}.lora_down.weight`, f([2, 8])], ['unet.down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight', f([2, 8])]],
        'unet.down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight',
        /same down/,
      );
    });
    test('a file that is not safetensors at all', () => {
      expect(() => readLora(new Uint8Array(4), FILE)).toThrow(FormatError);
    });
  });

  test('writeLora refuses bad layers', () => {
    const [good] = randomLayers(1);
    const write = (layer: Partial<LoraLayerDelta>, dtype: 'fp16' | 'fp32' = 'fp32') => writeLora([{ ...good, ...layer }], { convention: 'kohya', dtype });
    expect(() => write({ module: 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_kk' })).toThrow(InputError);
    expect(() => write({ module: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k' })).toThrow(/not a diffusers UNet module/);
    expect(() => write({ rank: 0 })).toThrow(InputError);
    expect(() => write({ alpha: Infinity })).toThrow(InputError);
    expect(() => write({ down: new Float32Array(5) })).toThrow(ShapeError);
    expect(() => write({ up: new Float32Array(5) })).toThrow(ShapeError);
    expect(() => write({ up: Float32Array.from(good.up, (x, i) => (i === 2 ? NaN : x)) })).toThrow(/non-finite/);
    expect(() => write({ up: Float32Array.from(good.up, (x, i) => (i === 2 ? 70000 : x)) }, 'fp16')).toThrow(/float16 range/);
    expect(() => write({ up: Float32Array.from(good.up, (x, i) => (i === 2 ? 70000 : x)) }, 'fp32')).not.toThrow();
    expect(() => writeLora([good, good], { convention: 'diffusers', dtype: 'fp32' })).toThrow(/twice/);
  });

  test('layers of modules other than attn2 to_k/to_v are written, and read back as unsupported', () => {
    const [good] = randomLayers(2);
    const layer = { ...good, module: 'mid_block.attentions.0.transformer_blocks.0.attn1.to_q' };
    const read = readLora(writeLora([layer], { convention: 'kohya', dtype: 'fp32' }), FILE);
    expect(read.layers).toEqual([]);
    expect(read.unsupported).toEqual([
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q.alpha',
    ]);
  });

  test('1500 mutated LoRA files end in a result or a FormatError', () => {
    const bytes = writeLora(randomLayers(3).slice(0, 2), { convention: 'kohya', dtype: 'fp16', metadata: { ss_network_dim: '3' } });
    const rng = new SeededRandom(21);
    let valid = 0;
    for (let i = 0; i < 1500; i++) {
      const { kind, bytes: mutated } = mutateBytes(bytes, rng);
      try {
        const read = readLora(mutated, FILE);
        for (const l of read.layers) {
          expect(l.down.length, kind).toBe(l.rank * l.inFeatures);
          expect(l.up.length, kind).toBe(l.outFeatures * l.rank);
          expect(Number.isFinite(l.alpha), kind).toBe(true);
        }
        valid++;
      } catch (error) {
        if (!(error instanceof FormatError)) throw new Error(`case ${i} (${kind}): ${String(error)}`);
        expect(error.file).toBe(FILE);
      }
    }
    expect(valid).toBeGreaterThan(100);
  });
});
