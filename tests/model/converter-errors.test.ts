import { beforeAll, describe, expect, test } from 'vitest';
import { decodeModel, encodeModel } from '../../src/formats/onnx/codec.ts';
import type { ModelProto } from '../../src/formats/onnx/types.ts';
import { convertExport, FAMILY_RULE, MemorySink } from '../../src/model/converter/index.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import { FormatError, InputError } from '../../src/util/errors.ts';

let original: Map<string, Uint8Array>;
beforeAll(async () => {
  original = (await forgeInMemory({ preset: 'tiny-sd15', seed: 3 })).files;
});

function editModel(files: Map<string, Uint8Array>, path: string, edit: (model: ModelProto) => void): Map<string, Uint8Array> {
  const model = decodeModel(files.get(path)!.slice(), path);
  edit(model);
  return new Map(files).set(path, encodeModel(model, path));
}

async function refusal(files: Map<string, Uint8Array>): Promise<{ error: unknown; written: number }> {
  const sink = new MemorySink();
  try {
    await convertExport(new MemoryPackSource(files), sink);
  } catch (error) {
    return { error, written: sink.files.size };
  }
  throw new Error('the converter accepted the export');
}

describe('convertExport refuses exports it does not understand', () => {
  test('a renamed to_v MatMul: the error names the node path it looked for; nothing is written', async () => {
    const target = '/down_blocks.1/attentions.0/transformer_blocks.0/attn2/to_v/MatMul';
    const files = editModel(original, 'unet/model.onnx', (model) => {
      const node = model.graph.node.find((n) => n.name === target)!;
      node.name = `${target}_renamed`;
    });
    const { error, written } = await refusal(files);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain(`"${target}"`);
    expect((error as Error).message).toContain('to_v projection of down_blocks.1.attentions.0.transformer_blocks.0.attn2');
    expect(written).toBe(0);
  });

  test('a UNet without any cross-attention names the node pattern', async () => {
    const files = editModel(original, 'unet/model.onnx', (model) => {
      for (const node of model.graph.node) if (node.name?.includes('/attn2/')) node.name = node.name.replace('/attn2/', '/attnX/');
    });
    const { error } = await refusal(files);
    expect((error as Error).message).toMatch(/no cross-attention found: looked for nodes named \/\{down_blocks\.N\|mid_block\|up_blocks\.N\}.*attn2\/\{to_k\|to_v\}\/MatMul/);
  });

  test('a projection that does not read encoder_hidden_states is refused', async () => {
    const target = '/mid_block/attentions.0/transformer_blocks.0/attn2/to_k/MatMul';
    const files = editModel(original, 'unet/model.onnx', (model) => {
      const node = model.graph.node.find((n) => n.name === target)!;
      node.input[0] = '/mid_block/attentions.0/transformer_blocks.0/norm2/Add_1_output_0';
    });
    const { error } = await refusal(files);
    expect((error as Error).message).toContain(target);
    expect((error as Error).message).toContain('expected the text embedding "encoder_hidden_states"');
  });

  test('an unknown text width names the family rule', async () => {
    // A 512-wide text embedding (no SD family has it): every projection and the text encoder's output say so.
    const files = editModel(original, 'unet/model.onnx', (model) => {
      for (const t of model.graph.initializer) {
        const reader = model.graph.node.find((n) => /attn2\/to_[kv]\/MatMul$/.test(n.name ?? '') && n.input[1] === t.name);
        if (reader) t.dims = [512, t.dims![1]];
      }
    });
    const both = editModel(files, 'text_encoder/model.onnx', (model) => {
      const dims = model.graph.output[0].type!.tensorType!.shape!.dim;
      dims[dims.length - 1] = { dimValue: 512 };
    });
    const { error } = await refusal(both);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain('unknown model family: text embedding width 512');
    expect((error as Error).message).toContain(FAMILY_RULE);
  });

  test('a text encoder whose width disagrees with the UNet is refused', async () => {
    const files = editModel(original, 'text_encoder/model.onnx', (model) => {
      const dims = model.graph.output[0].type!.tensorType!.shape!.dim;
      dims[dims.length - 1] = { dimValue: 768 };
    });
    const { error } = await refusal(files);
    expect((error as Error).message).toMatch(/text_encoder\/model\.onnx: output last_hidden_state: width 768, but the UNet's to_k\/to_v read 32-wide embeddings/);
  });

  test.each([
    ['unet/model.onnx', 'unet/model.onnx'],
    ['text_encoder/model.onnx', 'text_encoder/model.onnx'],
    ['vae_decoder/model.onnx', 'vae_decoder/model.onnx'],
    ['scheduler/scheduler_config.json', 'scheduler/scheduler_config.json'],
    ['tokenizer/merges.txt', 'tokenizer/vocab.json and tokenizer/merges.txt'],
  ])('missing %s: the error names it', async (missing, named) => {
    const files = new Map(original);
    files.delete(missing);
    const { error, written } = await refusal(files);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain(named);
    expect((error as Error).message).toContain('missing from the export');
    expect(written).toBe(0);
  });

  test('a missing unet/model.onnx_data names the data file', async () => {
    const files = new Map(original);
    files.delete('unet/model.onnx_data');
    const { error, written } = await refusal(files);
    expect(written).toBe(0);
    expect((error as Error).message).toContain('unet/model.onnx_data: (file): missing from the export (external data of unet/model.onnx)');
  });

  test('an unknown piece plan is an InputError', async () => {
    await expect(convertExport(new MemoryPackSource(original), new MemorySink(), { plan: 'halves' as never })).rejects.toThrow(InputError);
  });
});
