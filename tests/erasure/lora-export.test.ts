import { describe, expect, test } from 'vitest';
import { applyEditOperator, exactLora } from '../../src/erasure/closed-form.ts';
import { conceptSlug, exportEditAsLora, exportLoraLayers, loraFileName, type LoraExportProvenance } from '../../src/erasure/lora-export.ts';
import { parseRecipe } from '../../src/erasure/recipe.ts';
import { tensorToFloat32 } from '../../src/formats/safetensors/elements.ts';
import { readSafetensors, type SafetensorsTensor } from '../../src/formats/safetensors/reader.ts';
import { InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { editFixture, exactDelta, PACK_SHA, sampleRecipe, type EditFixture } from './lora-export-fixtures.ts';
import { frobenius, matrix, multiply } from './reference-linalg.ts';

type Convention = 'diffusers' | 'kohya';

/** The update one module's tensors hold, scale included, in float64 (read straight from the safetensors file, not through readLora). */
function fileDelta(tensors: ReadonlyMap<string, SafetensorsTensor>, module: string, convention: Convention): { delta: Float64Array; rank: number; out: number; inF: number } {
  const flat = module.replaceAll('.', '_');
  const [downKey, upKey, alphaKey] =
    convention === 'diffusers'
      ? [`unet.${module}.lora_A.weight`, `unet.${module}.lora_B.weight`, null]
      : [`lora_unet_${flat}.lora_down.weight`, `lora_unet_${flat}.lora_up.weight`, `lora_unet_${flat}.alpha`];
  const down = tensors.get(downKey)!;
  const up = tensors.get(upKey)!;
  const [rank, inF] = down.shape;
  const [out, upRank] = up.shape;
  expect(upRank).toBe(rank);
  let scale = 1;
  if (alphaKey) {
    const alpha = tensors.get(alphaKey)!;
    expect(alpha.dtype).toBe('F32');
    expect(alpha.shape).toEqual([]);
    scale = tensorToFloat32(alpha, 'f')[0] / rank;
  }
  const product = multiply(matrix(out, rank, tensorToFloat32(up, 'f')), matrix(rank, inF, tensorToFloat32(down, 'f')));
  return { delta: product.data.map((v) => v * scale), rank, out, inF };
}

function relative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  const diff = new Float64Array(want.length);
  for (let i = 0; i < want.length; i++) diff[i] = got[i] - want[i];
  return frobenius(diff) / frobenius(want);
}

function exportFixture(fixture: EditFixture, convention: Convention, rank: 'exact' | number, dtype: 'fp16' | 'fp32' = 'fp32') {
  const { operator, layers, host, recipe, family } = fixture;
  return exportEditAsLora({ operator, layers, host, recipe, packSha256: PACK_SHA, family }, { convention, rank, dtype });
}

const projections = (fixture: EditFixture) =>
  fixture.layers.flatMap((layer, i) =>
    (['to_k', 'to_v'] as const).map((p) => ({ module: `${layer.module}.${p}`, weight: p === 'to_k' ? fixture.host[i].toK : fixture.host[i].toV, out: layer.toK.shape[0] })),
  );

describe('exportEditAsLora', () => {
  const fixture = editFixture();

  test.each(['diffusers', 'kohya'] as const)('exact rank, %s: W + scale * up @ down equals W M (applyEditOperator) to 1e-5; keys and shapes follow the convention', (convention) => {
    const result = exportFixture(fixture, convention, 'exact');
    const { tensors, metadata } = readSafetensors(result.bytes, result.fileName);
    const d = fixture.operator.width;
    const n = fixture.operator.rank;
    expect(result.rank).toBe(n);
    expect(result.skipped).toEqual([]);
    expect(result.layers).toHaveLength(32);
    expect(result.worstRelativeError).toBe(0);
    expect(tensors.size).toBe(convention === 'diffusers' ? 64 : 96);

    const expectedKeys = new Set<string>();
    for (const { module, weight, out } of projections(fixture)) {
      const flat = module.replaceAll('.', '_');
      if (convention === 'diffusers') expectedKeys.add(`unet.${module}.lora_A.weight`).add(`unet.${module}.lora_B.weight`);
      else expectedKeys.add(`lora_unet_${flat}.lora_down.weight`).add(`lora_unet_${flat}.lora_up.weight`).add(`lora_unet_${flat}.alpha`);
      const got = fileDelta(tensors, module, convention);
      expect([got.rank, got.out, got.inF]).toEqual([n, out, d]);
      // The delta itself, against (W U) V^T by plain float64 products.
      expect(relative(got.delta, exactDelta(fixture.operator, weight, out).data)).toBeLessThan(1e-5);
      // The edited weights W + delta, against applyEditOperator's W M.
      const edited = applyEditOperator(fixture.operator, weight, out);
      expect(relative(got.delta.map((v, i) => v + weight[i]), edited)).toBeLessThan(1e-5);
    }
    expect(new Set(tensors.keys())).toEqual(expectedKeys);
    for (const [key, tensor] of tensors) if (!key.endsWith('.alpha')) expect(tensor.dtype).toBe('F32');

    expect(metadata.ss_network_dim).toBe(String(n));
    expect(metadata.ss_network_alpha).toBe(String(n));
    expect(metadata.ss_v2).toBe('False');
    expect(metadata.ss_base_model_version).toBe('sd_v1');
    expect(metadata.lethe_pack_sha256).toBe(PACK_SHA);
    expect(metadata.lethe_base_family).toBe('sd15');
    expect(metadata.lethe_method).toBe('realera');
    expect(metadata.lethe_seed).toBe('77');
    expect(metadata.lethe_rank).toBe(String(n));
    expect(JSON.parse(metadata.lethe_concept_sets).targets[0].concept).toBe('Van Gogh');
    expect(JSON.parse(metadata.lethe_hyperparameters).closedForm.lambda).toBe(0.5);
    expect(parseRecipe(metadata.lethe_recipe, 'lethe_recipe')).toEqual(fixture.recipe);
    expect(result.fileName).toBe(`lethe-erase-van-gogh-r${n}-${convention}.safetensors`);
  });

  test('an SD 2.x family writes ss_v2 True / sd_v2', () => {
    const sd2 = editFixture({ family: 'sd21', seed: 2 });
    const { metadata } = readSafetensors(exportFixture(sd2, 'kohya', 'exact').bytes, 'f');
    expect([metadata.ss_v2, metadata.ss_base_model_version, metadata.lethe_base_family]).toEqual(['True', 'sd_v2', 'sd21']);
  });

  test.each([
    ['kohya', 1],
    ['diffusers', 3],
  ] as const)('truncated to rank %s/%i: per-layer errors equal a float64 recomputation from the file; worst is their max', (convention, rank) => {
    const result = exportFixture(fixture, convention, rank);
    const { tensors } = readSafetensors(result.bytes, 'f');
    expect(result.rank).toBe(rank);
    expect(result.fileName).toBe(`lethe-erase-van-gogh-r${rank}-${convention}.safetensors`);
    const byModule = new Map(result.layers.map((layer) => [layer.module, layer]));
    for (const { module, weight, out } of projections(fixture)) {
      const reported = byModule.get(module)!;
      expect(reported.rank).toBe(rank);
      const got = fileDelta(tensors, module, convention);
      expect(got.rank).toBe(rank);
      const recomputed = relative(got.delta, exactDelta(fixture.operator, weight, out).data);
      expect(reported.relativeError).toBeGreaterThan(1e-3);
      expect(Math.abs(reported.relativeError - recomputed)).toBeLessThan(1e-5);
    }
    expect(result.worstRelativeError).toBe(Math.max(...result.layers.map((l) => l.relativeError)));
    // Fewer kept directions, larger error (same layer).
    if (rank === 3) {
      const rank1 = exportFixture(fixture, convention, 1).layers[0].relativeError;
      expect(rank1).toBeGreaterThan(result.layers[0].relativeError);
    }
  });

  test('precomputed ups (W U, as the GPU gives them) give the same file as computing them here', () => {
    const ups = fixture.layers.map((layer, i) => ({
      toK: exactLora(fixture.operator, fixture.host[i].toK, layer.toK.shape[0]).up,
      toV: exactLora(fixture.operator, fixture.host[i].toV, layer.toV.shape[0]).up,
    }));
    const options = { convention: 'kohya', rank: 3, dtype: 'fp32' } as const;
    const given = exportEditAsLora({ ...fixture, packSha256: PACK_SHA, ups }, options);
    expect(given.bytes).toEqual(exportFixture(fixture, 'kohya', 3).bytes);
    expect(() => exportEditAsLora({ ...fixture, packSha256: PACK_SHA, ups: ups.map((u) => ({ ...u, toV: u.toV.subarray(1) })) }, options)).toThrow(/ups: .*to_v: expected/);
  });

  test('a rank at or above the edit rank is the exact export', () => {
    const n = fixture.operator.rank;
    const result = exportFixture(fixture, 'kohya', n + 3);
    expect(result.rank).toBe(n);
    expect(result.worstRelativeError).toBe(0);
    expect(result.fileName).toBe(`lethe-erase-van-gogh-r${n}-kohya.safetensors`);
  });

  test.each(['diffusers', 'kohya'] as const)('fp16 %s: factors F16, kohya alpha F32, delta within half precision', (convention) => {
    const result = exportFixture(fixture, convention, 'exact', 'fp16');
    const { tensors } = readSafetensors(result.bytes, 'f');
    for (const [key, tensor] of tensors) expect(tensor.dtype).toBe(key.endsWith('.alpha') ? 'F32' : 'F16');
    for (const { module, weight, out } of projections(fixture)) {
      const error = relative(fileDelta(tensors, module, convention).delta, exactDelta(fixture.operator, weight, out).data);
      expect(error).toBeLessThan(2e-3);
      expect(error).toBeGreaterThan(1e-6); // it really was rounded
    }
  });

  test('a projection whose delta is exactly zero is skipped and said so', () => {
    const host = fixture.host.map((h) => ({ ...h }));
    host[3] = { ...host[3], toV: new Float32Array(host[3].toV.length) };
    const result = exportEditAsLora({ ...fixture, host, packSha256: PACK_SHA }, { convention: 'kohya', rank: 'exact', dtype: 'fp32' });
    const module = `${fixture.layers[3].module}.to_v`;
    expect(result.skipped).toEqual([module]);
    expect(result.layers.map((l) => l.module)).not.toContain(module);
    expect(result.layers).toHaveLength(31);
    const { tensors } = readSafetensors(result.bytes, 'f');
    expect([...tensors.keys()].some((key) => key.includes(module.replaceAll('.', '_')))).toBe(false);
    expect(tensors.size).toBe(93);
  });

  test('an edit that changes nothing (U = 0) is an InputError, not an empty file', () => {
    const operator = { ...fixture.operator, u: new Float64Array(fixture.operator.u.length) };
    expect(() => exportEditAsLora({ ...fixture, operator, packSha256: PACK_SHA }, { convention: 'kohya', rank: 'exact', dtype: 'fp32' })).toThrow(/every update is exactly zero/);
  });

  test('bad options and mismatched weights are errors that name the problem', () => {
    const input = { ...fixture, packSha256: PACK_SHA };
    expect(() => exportEditAsLora(input, { convention: 'kohya', rank: 0, dtype: 'fp32' })).toThrow(InputError);
    expect(() => exportEditAsLora(input, { convention: 'kohya', rank: 2.5, dtype: 'fp32' })).toThrow(/rank/);
    expect(() => exportEditAsLora(input, { convention: 'peft' as Convention, rank: 'exact', dtype: 'fp32' })).toThrow(/convention/);
    expect(() => exportEditAsLora(input, { convention: 'kohya', rank: 'exact', dtype: 'bf16' as 'fp16' })).toThrow(/dtype/);
    expect(() => exportEditAsLora({ ...input, host: input.host.slice(1) }, { convention: 'kohya', rank: 'exact', dtype: 'fp32' })).toThrow(/16 cross-attention layers/);
    const wide = input.layers.map((l, i) => (i === 5 ? { ...l, toK: { ...l.toK, shape: [l.toK.shape[0], 32] as [number, number] } } : l));
    expect(() => exportEditAsLora({ ...input, layers: wide }, { convention: 'kohya', rank: 'exact', dtype: 'fp32' })).toThrow(/32-wide embeddings, the edit operator is 24 wide/);
  });
});

describe('exportLoraLayers (any low-rank updates)', () => {
  const provenance: LoraExportProvenance = { family: 'sd15', packSha256: PACK_SHA, method: 'esd-x', conceptSets: null, hyperparameters: { steps: 10 }, seed: 3, name: 'Trained: Style #2' };
  const random = new SeededRandom(9);
  const module = 'mid_block.attentions.0.transformer_blocks.0.attn2';
  const layer = { module, projection: 'to_k' as const, outFeatures: 12, inFeatures: 10, rank: 4, up: random.normalArray(48), down: random.normalArray(40), scale: 0.25 };

  test('scale is folded in: the file holds scale * up @ down', () => {
    const result = exportLoraLayers([layer], { convention: 'kohya', rank: 'exact', dtype: 'fp32' }, provenance);
    expect(result.fileName).toBe('lethe-trained-style-2-r4-kohya.safetensors');
    const { tensors, metadata } = readSafetensors(result.bytes, 'f');
    const want = multiply(matrix(12, 4, layer.up), matrix(4, 10, layer.down)).data.map((v) => v * 0.25);
    expect(relative(fileDelta(tensors, `${module}.to_k`, 'kohya').delta, want)).toBeLessThan(1e-6);
    expect(metadata.lethe_method).toBe('esd-x');
    expect(metadata.lethe_recipe).toBeUndefined();
  });

  test('modules other than attn2 to_k / to_v are refused', () => {
    expect(() => exportLoraLayers([{ ...layer, module: 'mid_block.attentions.0.transformer_blocks.0.attn1' }], { convention: 'kohya', rank: 'exact', dtype: 'fp32' }, provenance)).toThrow(
      /not a cross-attention module/,
    );
    expect(() => exportLoraLayers([layer, layer], { convention: 'kohya', rank: 'exact', dtype: 'fp32' }, provenance)).toThrow(/given twice/);
    expect(() =>
      exportLoraLayers([layer], { convention: 'kohya', rank: 'exact', dtype: 'fp32' }, { ...provenance, extraMetadata: { ss_network_dim: '9' } }),
    ).toThrow(/standard metadata key/);
  });
});

describe('file names', () => {
  test.each([
    ['Van Gogh', 'van-gogh'],
    ['Café Noir / ../etc', 'cafe-noir-etc'],
    ['梵高', 'concept'],
    ['  Claude   Monet!! ', 'claude-monet'],
  ])('%j -> %j', (concept, slug) => {
    expect(conceptSlug(sampleRecipe('sd15', concept))).toBe(slug);
  });

  test('several targets, no recipe, and the full name', () => {
    const two = sampleRecipe();
    const withTargets = (n: number) => ({ ...two, concepts: { ...two.concepts, targets: Array.from({ length: n }, (_, i) => ({ ...two.concepts.targets[0], concept: `Artist ${i}` })) } });
    expect(conceptSlug(withTargets(2))).toBe('artist-0-and-artist-1');
    expect(conceptSlug(withTargets(4))).toBe('artist-0-and-3-more');
    expect(conceptSlug(null)).toBe('edit');
    expect(loraFileName('erase-x'.repeat(20), 4, 'diffusers')).toMatch(/^lethe-[a-z0-9-]{1,48}-r4-diffusers\.safetensors$/);
  });
});
