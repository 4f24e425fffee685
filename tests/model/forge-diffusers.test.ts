import { describe, expect, test } from 'vitest';
import { readSafetensors, tensorToFloat32 } from '../../src/formats/safetensors/index.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';
import { float32ToHalfBits } from '../../src/util/half.ts';

const parse = (bytes: Uint8Array | undefined): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

describe('forge, diffusers layout', () => {
  const forged = forgeInMemory({ preset: 'tiny-sd15', seed: 3, layout: 'diffusers', fp16Variant: true });

  test('writes a StableDiffusionPipeline repo: configs, tokenizer, scheduler, weights in fp32 and the fp16 variant', async () => {
    const { files, summary } = await forged;
    expect(summary.layout).toBe('diffusers');
    expect(parse(files.get('model_index.json'))._class_name).toBe('StableDiffusionPipeline');
    expect(parse(files.get('model_index.json')).vae).toEqual(['diffusers', 'AutoencoderKL']);
    for (const path of [
      'scheduler/scheduler_config.json',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      'text_encoder/config.json',
      'text_encoder/model.safetensors',
      'text_encoder/model.fp16.safetensors',
      'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors',
      'unet/diffusion_pytorch_model.fp16.safetensors',
      'vae/config.json',
      'vae/diffusion_pytorch_model.safetensors',
      'vae/diffusion_pytorch_model.fp16.safetensors',
    ])
      expect(files.has(path), path).toBe(true);
    expect([...files.keys()].some((p) => p.endsWith('.onnx') || p.startsWith('vae_decoder/'))).toBe(false);
  });

  test('weights carry diffusers/transformers parameter names in the torch layout', async () => {
    const { files } = await forged;
    const shapes = (path: string) => new Map([...readSafetensors(files.get(path)!, path).tensors].map(([name, t]) => [name, t.shape]));
    const unet = shapes('unet/diffusion_pytorch_model.safetensors');
    const text = shapes('text_encoder/model.safetensors');
    const vae = shapes('vae/diffusion_pytorch_model.safetensors');
    // tiny-sd15: 16-channel first block with 2 heads (inner 16), 32-wide text.
    expect(unet.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toEqual([16, 32]);
    expect(unet.get('down_blocks.0.attentions.0.proj_in.weight')).toEqual([16, 16, 1, 1]);
    expect(unet.get('time_embedding.linear_1.weight')).toEqual([64, 16]);
    expect(unet.get('down_blocks.0.resnets.0.norm1.weight')).toEqual([16]);
    expect(text.get('text_model.encoder.layers.0.self_attn.q_proj.weight')).toEqual([32, 32]);
    expect(text.get('text_model.encoder.layers.0.mlp.fc1.weight')).toEqual([64, 32]);
    expect(text.get('text_model.final_layer_norm.weight')).toEqual([32]);
    expect(vae.get('decoder.up_blocks.0.resnets.0.conv1.weight')).toEqual([32, 32, 3, 3]);
    expect(vae.get('decoder.mid_block.attentions.0.to_q.weight')).toEqual([32, 32]);
    expect(vae.get('post_quant_conv.weight')).toEqual([4, 4, 1, 1]);
    expect(vae.get('encoder.conv_in.weight')).toEqual([16, 3, 3, 3]);
    expect(vae.get('encoder.conv_out.weight')).toEqual([8, 32, 3, 3]);
    expect(vae.get('quant_conv.weight')).toEqual([8, 8, 1, 1]);
    expect(unet.size).toBe(readSafetensors(files.get('unet/diffusion_pytorch_model.fp16.safetensors')!, 'fp16').tensors.size);
  });

  test('the fp16 variant holds the fp32 values rounded to half', async () => {
    const { files } = await forged;
    for (const base of ['unet/diffusion_pytorch_model', 'text_encoder/model', 'vae/diffusion_pytorch_model']) {
      const full = readSafetensors(files.get(`${base}.safetensors`)!, base);
      const half = readSafetensors(files.get(`${base}.fp16.safetensors`)!, base);
      for (const [name, tensor] of full.tensors) {
        const h = half.tensors.get(name)!;
        expect(h.dtype).toBe('F16');
        const bits = new Uint16Array(h.data.slice().buffer);
        const values = tensorToFloat32(tensor, base);
        expect(bits.every((b, i) => b === float32ToHalfBits(values[i])), name).toBe(true);
      }
    }
  });

  test('the same options give the same bytes', async () => {
    const again = await forgeInMemory({ preset: 'tiny-sd15', seed: 3, layout: 'diffusers', fp16Variant: true });
    const { files } = await forged;
    for (const [path, bytes] of files) expect(Buffer.compare(Buffer.from(again.files.get(path)!), Buffer.from(bytes)), path).toBe(0);
  });

  test('fp16Variant is refused outside the fp32 diffusers layout', async () => {
    await expect(forgeInMemory({ preset: 'tiny-sd15', seed: 3, fp16Variant: true })).rejects.toThrow(/fp16Variant/);
  });
});
