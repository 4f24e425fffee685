import { describe, expect, test } from 'vitest';
import { describeLoraKey, loraKeys } from '../../src/formats/lora/keys.ts';
import {
  UNET_MODULE_TEMPLATES,
  isCrossAttentionKeyValue,
  isUnetModule,
  kohyaFlatName,
  textEncoderModuleFromKohya,
  unetModuleFromKohya,
} from '../../src/formats/lora/module-grammar.ts';
import { SD_CROSS_ATTENTION_KV } from './lora-fixtures.ts';

/** Every module of the SD 1.5 / 2.x UNet, enumerated from the diffusers config (layers_per_block 2, 4 blocks). */
function sdUnetModules(): string[] {
  const attention = (prefix: string) => [
    `${prefix}.norm`,
    `${prefix}.proj_in`,
    `${prefix}.proj_out`,
    ...['norm1', 'norm2', 'norm3', 'ff.net.0.proj', 'ff.net.2'].map((m) => `${prefix}.transformer_blocks.0.${m}`),
    ...['attn1', 'attn2'].flatMap((a) => ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => `${prefix}.transformer_blocks.0.${a}.${p}`)),
  ];
  const resnet = (prefix: string, shortcut: boolean) => [
    ...['norm1', 'conv1', 'time_emb_proj', 'norm2', 'conv2'].map((m) => `${prefix}.${m}`),
    ...(shortcut ? [`${prefix}.conv_shortcut`] : []),
  ];
  const out = ['conv_in', 'time_embedding.linear_1', 'time_embedding.linear_2', 'conv_norm_out', 'conv_out'];
  for (let b = 0; b < 4; b++) {
    for (let r = 0; r < 2; r++) {
      out.push(...resnet(`down_blocks.${b}.resnets.${r}`, r === 0 && b > 0));
      if (b < 3) out.push(...attention(`down_blocks.${b}.attentions.${r}`));
    }
    if (b < 3) out.push(`down_blocks.${b}.downsamplers.0.conv`);
  }
  out.push(...resnet('mid_block.resnets.0', false), ...resnet('mid_block.resnets.1', false), ...attention('mid_block.attentions.0'));
  for (let b = 0; b < 4; b++) {
    for (let r = 0; r < 3; r++) {
      out.push(...resnet(`up_blocks.${b}.resnets.${r}`, true));
      if (b > 0) out.push(...attention(`up_blocks.${b}.attentions.${r}`));
    }
    if (b < 3) out.push(`up_blocks.${b}.upsamplers.0.conv`);
  }
  return out;
}

describe('kohya <-> diffusers module names', () => {
  test('the 32 SD 1.5 / 2.x cross-attention projections map both ways', () => {
    expect(SD_CROSS_ATTENTION_KV).toHaveLength(32);
    for (const module of SD_CROSS_ATTENTION_KV) {
      const flat = kohyaFlatName(module);
      expect(flat).not.toContain('.');
      expect(unetModuleFromKohya(flat)).toBe(module);
      expect(isCrossAttentionKeyValue(module)).toBe(true);
      const kohya = loraKeys(module, 'kohya');
      const diffusers = loraKeys(module, 'diffusers');
      expect(diffusers).toEqual({ down: `unet.${module}.lora_A.weight`, up: `unet.${module}.lora_B.weight`, alpha: null });
      for (const [key, role] of [[kohya.down, 'down'], [kohya.up, 'up'], [kohya.alpha!, 'alpha']] as const)
        expect(describeLoraKey(key)).toEqual({ key, convention: 'kohya', component: 'unet', module, role });
      for (const [key, role] of [[diffusers.down, 'down'], [diffusers.up, 'up']] as const)
        expect(describeLoraKey(key)).toEqual({ key, convention: 'diffusers', component: 'unet', module, role });
    }
    expect(loraKeys('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k', 'kohya')).toEqual({
      down: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight',
      up: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight',
      alpha: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha',
    });
    expect(unetModuleFromKohya('up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_v')).toBe('up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_v');
    expect(unetModuleFromKohya('mid_block_attentions_0_transformer_blocks_0_attn2_to_k')).toBe('mid_block.attentions.0.transformer_blocks.0.attn2.to_k');
  });

  test('every module of the SD UNet maps back from its kohya name, and only attn2 to_k/to_v count as edited', () => {
    const modules = sdUnetModules();
    expect(new Set(modules).size).toBe(modules.length);
    expect(modules.length).toBe(392); // 16 transformer blocks x 16 + 22 resnets (125 modules) + 6 samplers + 5 top-level
    for (const module of modules) {
      expect(isUnetModule(module), module).toBe(true);
      expect(unetModuleFromKohya(kohyaFlatName(module)), module).toBe(module);
    }
    expect(modules.filter(isCrossAttentionKeyValue).sort()).toEqual([...SD_CROSS_ATTENTION_KV].sort());
  });

  test('no two templates can produce the same kohya name', () => {
    // Independent of the implementation's regexes: a flat name may match several templates only if they collide.
    const toRegex = (template: string) => new RegExp(`^${template.split('.').map((p) => (p === '#' ? '[0-9]+' : p)).join('_')}$`);
    const regexes = UNET_MODULE_TEMPLATES.map(toRegex);
    for (const template of UNET_MODULE_TEMPLATES)
      for (const index of ['0', '1', '12']) {
        const flat = template.replaceAll('#', index).replaceAll('.', '_');
        expect(regexes.filter((r) => r.test(flat)), flat).toHaveLength(1);
      }
  });

  test('SDXL-sized indices and unknown names', () => {
    expect(unetModuleFromKohya('down_blocks_2_attentions_1_transformer_blocks_9_attn2_to_out_0')).toBe('down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_out.0');
    expect(unetModuleFromKohya('down_blocks_01_attentions_0_transformer_blocks_0_attn2_to_k')).toBeNull();
    expect(unetModuleFromKohya('down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_kk')).toBeNull();
    expect(unetModuleFromKohya('input_blocks_1_1_transformer_blocks_0_attn2_to_k')).toBeNull();
    expect(textEncoderModuleFromKohya('text_model_encoder_layers_11_self_attn_k_proj')).toBe('text_model.encoder.layers.11.self_attn.k_proj');
  });
});

describe('describeLoraKey', () => {
  const m = 'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v';
  const flat = 'down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_v';
  test.each([
    [`unet.${m}.lora_A.weight`, 'diffusers', 'unet', m, 'down'],
    [`unet.${m}.lora_B.default.weight`, 'diffusers', 'unet', m, 'up'],
    [`base_model.model.${m}.lora_A.weight`, 'diffusers', 'unet', m, 'down'],
    [`${m}.lora_B.weight`, 'diffusers', 'unet', m, 'up'],
    [`unet.${m}.lora.down.weight`, 'diffusers', 'unet', m, 'down'],
    [`unet.${m}.lora_up.weight`, 'diffusers', 'unet', m, 'up'],
    [`unet.${m.replace('.to_v', '.processor.to_v_lora')}.down.weight`, 'diffusers', 'unet', m, 'down'],
    [`unet.${m.replace('.to_v', '.processor.to_out_lora')}.up.weight`, 'diffusers', 'unet', m.replace('to_v', 'to_out.0'), 'up'],
    [`unet.${m}.alpha`, 'diffusers', 'unet', m, 'alpha'],
    [`unet.${m}.diff`, 'diffusers', 'unet', m, 'diff'],
    [`lora_unet_${flat}.diff`, 'kohya', 'unet', m, 'diff'],
    [`lora_unet_${flat}_diff`, 'kohya', 'unet', m, 'diff'],
    [`lora_unet_${flat}.diff_b`, 'kohya', 'unet', m, 'other'],
    [`lora_unet_${flat}.hada_w1_a`, 'kohya', 'unet', m, 'other'],
    ['lora_unet_down_blocks_0_resnets_1_conv2.lora_down.weight', 'kohya', 'unet', 'down_blocks.0.resnets.1.conv2', 'down'],
    ['lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn1_to_out_0.lora_up.weight', 'kohya', 'unet', 'up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0', 'up'],
    ['lora_unet_mid_block_attentions_0_proj_in.alpha', 'kohya', 'unet', 'mid_block.attentions.0.proj_in', 'alpha'],
    ['lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', 'kohya', 'text_encoder', 'text_model.encoder.layers.0.self_attn.q_proj', 'down'],
    ['lora_te2_text_model_encoder_layers_3_mlp_fc2.alpha', 'kohya', 'text_encoder', 'text_model.encoder.layers.3.mlp.fc2', 'alpha'],
    ['text_encoder.text_model.encoder.layers.0.self_attn.out_proj.lora_A.weight', 'diffusers', 'text_encoder', 'text_model.encoder.layers.0.self_attn.out_proj', 'down'],
    ['lora_unet_made_up_layer.lora_down.weight', 'kohya', 'unet', null, 'down'],
    ['unet.made.up.lora_A.weight', 'diffusers', 'unet', null, 'down'],
    ['model.diffusion_model.input_blocks.1.1.proj_in.weight', null, null, null, 'other'],
    ['', null, null, null, 'other'],
  ])('%s', (key, convention, component, module, role) => {
    expect(describeLoraKey(key)).toEqual({ key, convention, component, module, role });
  });
});
