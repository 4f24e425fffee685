import { describe, expect, test } from 'vitest';
import { loraMetadata, readKohyaMetadata, readLetheMetadata, type LoraMetadataInput } from '../../src/formats/lora/metadata.ts';
import { readLora } from '../../src/formats/lora/reader.ts';
import { writeLora } from '../../src/formats/lora/writer.ts';
import { FormatError, InputError } from '../../src/util/errors.ts';
import { SD_CROSS_ATTENTION_KV } from './lora-fixtures.ts';

const FILE = 'meta.safetensors';
const SHA = 'a'.repeat(63) + '0';

const input: LoraMetadataInput = {
  baseModelVersion: 'sd_v2',
  baseFamily: 'sd21',
  packSha256: SHA,
  method: 'uce-realera',
  conceptSets: { targets: ['Van Gogh'], anchors: ['a painter'], retains: ['Monet', 'Picasso'], weights: [1, 0.5] },
  hyperparameters: { lambda: 0.1, neighbors: 8, erase_scale: 1 },
  seed: 1234,
  rank: 4,
  alpha: 4,
  vPrediction: true,
};

describe('LoRA metadata', () => {
  test('kohya/A1111 keys and Lethe keys, all strings', () => {
    expect(loraMetadata(input)).toEqual({
      ss_network_module: 'networks.lora',
      ss_network_dim: '4',
      ss_network_alpha: '4',
      ss_v2: 'True',
      ss_base_model_version: 'sd_v2',
      ss_v_parameterization: 'True',
      lethe_format: '1',
      lethe_base_family: 'sd21',
      lethe_pack_sha256: SHA,
      lethe_method: 'uce-realera',
      lethe_concept_sets: '{"targets":["Van Gogh"],"anchors":["a painter"],"retains":["Monet","Picasso"],"weights":[1,0.5]}',
      lethe_hyperparameters: '{"lambda":0.1,"neighbors":8,"erase_scale":1}',
      lethe_seed: '1234',
      lethe_rank: '4',
    });
    const v1 = loraMetadata({ ...input, baseModelVersion: 'sd_v1', vPrediction: undefined, alpha: 0.5 });
    expect([v1.ss_v2, v1.ss_base_model_version, v1.ss_network_alpha, 'ss_v_parameterization' in v1]).toEqual(['False', 'sd_v1', '0.5', false]);
  });

  test('survives a LoRA file and reads back', () => {
    const layer = { module: SD_CROSS_ATTENTION_KV[0], rank: 4, inFeatures: 3, outFeatures: 2, alpha: 4, down: new Float32Array(12).fill(0.5), up: new Float32Array(8).fill(0.25) };
    const { metadata } = readLora(writeLora([layer], { convention: 'kohya', dtype: 'fp16', metadata: loraMetadata(input) }), FILE);
    expect(readKohyaMetadata(metadata)).toEqual({ networkModule: 'networks.lora', networkDim: 4, networkAlpha: 4, v2: true, baseModelVersion: 'sd_v2' });
    const { baseFamily, packSha256, method, conceptSets, hyperparameters, seed, rank } = input;
    expect(readLetheMetadata(metadata, FILE)).toEqual({ baseFamily, packSha256, method, conceptSets, hyperparameters, seed, rank });
  });

  test('bad input is an InputError', () => {
    expect(() => loraMetadata({ ...input, packSha256: 'ABC' })).toThrow(InputError);
    expect(() => loraMetadata({ ...input, seed: 1.5 })).toThrow(/seed/);
    expect(() => loraMetadata({ ...input, rank: 0 })).toThrow(/rank/);
    expect(() => loraMetadata({ ...input, alpha: NaN })).toThrow(/alpha/);
    expect(() => loraMetadata({ ...input, method: '' })).toThrow(/method/);
    expect(() => loraMetadata({ ...input, baseModelVersion: 'sdxl' as 'sd_v1' })).toThrow(/baseModelVersion/);
    expect(() => loraMetadata({ ...input, hyperparameters: { lr: Infinity } })).toThrow(/hyperparameters/);
  });

  test('third-party kohya keys are read leniently', () => {
    expect(readKohyaMetadata({ ss_network_dim: '32', ss_network_alpha: 'Dynamic', ss_v2: 'true' })).toEqual({
      networkModule: null,
      networkDim: 32,
      networkAlpha: null,
      v2: null,
      baseModelVersion: null,
    });
    expect(readKohyaMetadata({ ss_network_dim: '1.5', ss_network_alpha: '', __proto__: 'x' } as Record<string, string>).networkDim).toBeNull();
  });

  test('Lethe keys: absent is null, incomplete or malformed is a FormatError naming the key', () => {
    expect(readLetheMetadata({ ss_network_dim: '4' }, FILE)).toBeNull();
    const good = loraMetadata(input);
    const fails = (change: Record<string, string | undefined>, field: string) => {
      const metadata: Record<string, string> = { ...good };
      for (const [k, v] of Object.entries(change)) if (v === undefined) delete metadata[k];
      else metadata[k] = v;
      try {
        readLetheMetadata(metadata, FILE);
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        expect((error as FormatError).field).toBe(`__metadata__.${field}`);
        return;
      }
      throw new Error('expected a FormatError');
    };
    fails({ lethe_seed: undefined }, 'lethe_seed');
    fails({ lethe_seed: '12.5' }, 'lethe_seed');
    fails({ lethe_rank: '0' }, 'lethe_rank');
    fails({ lethe_concept_sets: '{targets' }, 'lethe_concept_sets');
    fails({ lethe_hyperparameters: '' }, 'lethe_hyperparameters');
    fails({ lethe_pack_sha256: SHA.toUpperCase() }, 'lethe_pack_sha256');
    fails({ lethe_format: '2' }, 'lethe_format');
    fails({ lethe_method: '' }, 'lethe_method');
  });
});
