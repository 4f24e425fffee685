import { describe, expect, test } from 'vitest';
import { exportEditAsLora } from '../../src/erasure/lora-export.ts';
import { importLoraFile, LoraBaseMismatchError, type ImportedKvDelta } from '../../src/erasure/lora-import.ts';
import { readSafetensors } from '../../src/formats/safetensors/reader.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../src/formats/safetensors/writer.ts';
import { FormatError, InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { crossAttentionLayers, editFixture, exactDelta, PACK_SHA } from './lora-export-fixtures.ts';
import { frobenius, matrix, multiply } from './reference-linalg.ts';

function deltaOf(d: ImportedKvDelta): Float64Array {
  return multiply(matrix(d.outFeatures, d.rank, d.up), matrix(d.rank, d.inFeatures, d.down)).data.map((v) => v * d.scale);
}

function relative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  const diff = new Float64Array(want.length);
  for (let i = 0; i < want.length; i++) diff[i] = got[i] - want[i];
  return frobenius(diff) / frobenius(want);
}

const f32 = (shape: number[], data: Float32Array): SafetensorsWriteTensor => ({ dtype: 'F32', shape, data });

describe('importLoraFile', () => {
  const fixture = editFixture({ seed: 5 });
  const target = { layers: fixture.layers, family: fixture.family };
  const input = { ...fixture, packSha256: PACK_SHA };

  test.each([
    ['diffusers', 'fp32', 1e-6],
    ['kohya', 'fp32', 1e-6],
    ['diffusers', 'fp16', 2e-3],
    ['kohya', 'fp16', 2e-3],
  ] as const)('an exported %s %s file reproduces the edit deltas (strength scales them)', (convention, dtype, tolerance) => {
    const exported = exportEditAsLora(input, { convention, rank: 'exact', dtype });
    const strength = 0.75;
    const imported = importLoraFile(exported.bytes, exported.fileName, strength, target);
    expect(imported.deltas).toHaveLength(32);
    expect(imported.notApplied).toEqual([]);
    expect(imported.notes).toEqual([]);
    expect(imported.provenance?.packSha256).toBe(PACK_SHA);
    expect(imported.applied).toEqual(fixture.layers.flatMap((l) => [`${l.module}.to_k`, `${l.module}.to_v`]));
    for (const delta of imported.deltas) {
      const layer = fixture.layers[delta.layer];
      expect(delta.module).toBe(`${layer.module}.${delta.projection}`);
      expect(delta.scale).toBeCloseTo(strength, 12);
      const weight = delta.projection === 'to_k' ? fixture.host[delta.layer].toK : fixture.host[delta.layer].toV;
      const want = exactDelta(fixture.operator, weight, delta.outFeatures).data.map((v) => v * strength);
      expect(relative(deltaOf(delta), want)).toBeLessThan(tolerance);
    }
  });

  test('kohya alpha gives scale = strength * alpha / rank', () => {
    const random = new SeededRandom(3);
    const module = 'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k';
    const [out, d] = fixture.layers[6].toK.shape;
    const bytes = writeSafetensors([
      [`${module}.lora_down.weight`, f32([4, d], random.normalArray(4 * d))],
      [`${module}.lora_up.weight`, f32([out, 4], random.normalArray(out * 4))],
      [`${module}.alpha`, f32([], Float32Array.of(2))],
    ]);
    const imported = importLoraFile(bytes, 'k.safetensors', 1.5, target);
    expect(imported.deltas).toHaveLength(1);
    expect([imported.deltas[0].layer, imported.deltas[0].projection, imported.deltas[0].rank]).toEqual([6, 'to_k', 4]);
    expect(imported.deltas[0].scale).toBeCloseTo((1.5 * 2) / 4, 12);
  });

  test('an SD 2.x LoRA (1024-wide) on an SD 1.x pack is an error that says so', () => {
    const sd1 = { layers: crossAttentionLayers([320], 768).slice(0, 1), family: 'sd15' as const };
    const random = new SeededRandom(1);
    const base = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    const bytes = writeSafetensors([
      [`${base}.lora_A.weight`, f32([2, 1024], random.normalArray(2048))],
      [`${base}.lora_B.weight`, f32([320, 2], random.normalArray(640))],
    ]);
    let error: unknown;
    try {
      importLoraFile(bytes, 'sd2.safetensors', 1, sd1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoraBaseMismatchError);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/sd2\.safetensors: unet\.down_blocks\.0.*1024 \(SD 2\.x\) wide.*sd15 pack's take 768 \(SD 1\.x\); it was made for a different base model/);
  });

  test('unsupported keys (self-attention, text encoder, unknown) are listed in file order, not dropped', () => {
    const exported = exportEditAsLora(input, { convention: 'kohya', rank: 2, dtype: 'fp32' });
    const random = new SeededRandom(2);
    const extra: [string, SafetensorsWriteTensor][] = [
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight', f32([2, 8], random.normalArray(16))],
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight', f32([8, 2], random.normalArray(16))],
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', f32([2, 8], random.normalArray(16))],
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', f32([8, 2], random.normalArray(16))],
      ['something_else', f32([1], Float32Array.of(1))],
    ];
    // Re-pack the exported tensors with the extra ones in between.
    const file = readSafetensors(exported.bytes, 'f');
    const tensors: [string, SafetensorsWriteTensor][] = [...file.tensors].map(([name, t]) => [name, f32([...t.shape], new Float32Array(t.data.slice().buffer))]);
    const bytes = writeSafetensors([...tensors.slice(0, 3), ...extra, ...tensors.slice(3)], file.metadata);
    const imported = importLoraFile(bytes, 'mixed.safetensors', 1, target);
    expect(imported.deltas).toHaveLength(32);
    expect(imported.notApplied).toEqual(extra.map(([name]) => name));
  });

  test('projections the pack lacks are listed; a file with none of the pack\'s projections is a mismatch error', () => {
    const exported = exportEditAsLora(input, { convention: 'diffusers', rank: 'exact', dtype: 'fp32' });
    const smaller = { layers: fixture.layers.slice(0, 14), family: fixture.family };
    const imported = importLoraFile(exported.bytes, 'e.safetensors', 1, smaller);
    expect(imported.deltas).toHaveLength(28);
    const lacking = fixture.layers.slice(14).flatMap((l) => [`${l.module}.to_k`, `${l.module}.to_v`]);
    expect(imported.notApplied).toEqual(lacking.flatMap((m) => [`unet.${m}.lora_A.weight`, `unet.${m}.lora_B.weight`]));
    expect(imported.notes.join('\n')).toContain(`4 cross-attention projections of the file are not in this ${fixture.family} pack`);
    const other = { layers: crossAttentionLayers([8], 24).map((l) => ({ ...l, module: 'down_blocks.3.attentions.0.transformer_blocks.0.attn2' })), family: fixture.family };
    expect(() => importLoraFile(exported.bytes, 'e.safetensors', 1, other)).toThrow(LoraBaseMismatchError);
  });

  test('a .diff of low rank becomes factors within 1e-3; a full-rank one is kept exact', () => {
    const [out, d] = fixture.layers[0].toK.shape; // 8 x 24
    const [out4] = fixture.layers[4].toK.shape; // 32 x 24
    const random = new SeededRandom(4);
    const lowRank = multiply(matrix(out4, 3, random.normalArray(out4 * 3)), matrix(3, d, random.normalArray(3 * d))).data;
    const fullRank = random.normalArray(out * d);
    const bytes = writeSafetensors([
      ['lora_unet_down_blocks_2_attentions_0_transformer_blocks_0_attn2_to_v.diff', f32([out4, d], Float32Array.from(lowRank))],
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.diff', f32([out, d], fullRank)],
    ]);
    const imported = importLoraFile(bytes, 'diff.safetensors', 0.5, target);
    const byModule = new Map(imported.deltas.map((delta) => [delta.module, delta]));
    const factored = byModule.get('down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_v')!;
    expect([factored.layer, factored.rank, factored.scale]).toEqual([4, 3, 0.5]);
    expect(relative(deltaOf(factored), lowRank.map((v) => v * 0.5))).toBeLessThan(1e-3);
    const exact = byModule.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k')!;
    expect(exact.rank).toBe(Math.min(out, d));
    expect(relative(deltaOf(exact), Float64Array.from(fullRank).map((v) => v * 0.5))).toBeLessThan(1e-7);
    expect(imported.notes).toHaveLength(2);
    expect(imported.notes[0]).toMatch(/to_v: full difference \(32 x 24\) factored to rank 3 by randomized SVD/);
    expect(imported.notes[1]).toMatch(/to_k: full difference \(8 x 24\) is not low-rank within 1e-3; kept exact as rank-8 factors/);
  });

  test('a low-rank update and a .diff of the same projection are applied as their sum', () => {
    const [out, d] = fixture.layers[0].toK.shape;
    const random = new SeededRandom(6);
    const base = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k';
    const down = random.normalArray(2 * d);
    const up = random.normalArray(out * 2);
    const diff = multiply(matrix(out, 1, random.normalArray(out)), matrix(1, d, random.normalArray(d))).data;
    const bytes = writeSafetensors([
      [`${base}.lora_down.weight`, f32([2, d], down)],
      [`${base}.lora_up.weight`, f32([out, 2], up)],
      [`${base}.alpha`, f32([], Float32Array.of(1))],
      [`${base}.diff`, f32([out, d], Float32Array.from(diff))],
    ]);
    const imported = importLoraFile(bytes, 'sum.safetensors', 2, target);
    expect(imported.deltas).toHaveLength(1);
    const want = multiply(matrix(out, 2, up), matrix(2, d, down)).data.map((v, i) => 2 * (v / 2 + diff[i]));
    expect(relative(deltaOf(imported.deltas[0]), want)).toBeLessThan(1e-5);
  });

  test('malformed files are FormatErrors naming the key; bad strength is an InputError', () => {
    const base = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    const [out, d] = fixture.layers[0].toK.shape;
    const orphan = writeSafetensors([[`${base}.lora_A.weight`, f32([2, d], new Float32Array(2 * d))]]);
    expect(() => importLoraFile(orphan, 'bad.safetensors', 1, target)).toThrow(FormatError);
    try {
      importLoraFile(orphan, 'bad.safetensors', 1, target);
    } catch (e) {
      expect((e as FormatError).field).toBe(`${base}.lora_A.weight`);
    }
    const wrongRank = writeSafetensors([
      [`${base}.lora_A.weight`, f32([2, d], new Float32Array(2 * d))],
      [`${base}.lora_B.weight`, f32([out, 3], new Float32Array(out * 3))],
    ]);
    expect(() => importLoraFile(wrongRank, 'bad.safetensors', 1, target)).toThrow(/lora_B\.weight: rank 3/);
    expect(() => importLoraFile(new Uint8Array(5), 'tiny.safetensors', 1, target)).toThrow(FormatError);
    const exported = exportEditAsLora(input, { convention: 'kohya', rank: 1, dtype: 'fp32' });
    expect(() => importLoraFile(exported.bytes, 'e', Number.NaN, target)).toThrow(InputError);
  });
});
