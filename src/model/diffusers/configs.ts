/**
 * The three model configs of a Stable Diffusion 1.x/2.x diffusers repo, read into the shapes the
 * forge's graph builders take. Anything the graphs do not implement (SDXL's multi-layer
 * transformers, class embeddings, other block types) is refused by name rather than ignored.
 */
import { FormatError } from '../../util/errors.ts';
import type { ClipTextShape } from '../builders/clip-text.ts';
import type { UNetShape } from '../builders/unet.ts';
import type { VaeDecoderShape } from '../builders/vae-decoder.ts';
import { ConfigFields, type JsonObject } from '../../util/json-fields.ts';

export const UNET_CONFIG = 'unet/config.json';
export const TEXT_ENCODER_CONFIG = 'text_encoder/config.json';
export const VAE_CONFIG = 'vae/config.json';

/**
 * UNet2DConditionModel. Heads: diffusers uses `num_attention_heads` when given and otherwise
 * `attention_head_dim` AS THE HEAD COUNT (a misnomer kept for compatibility): SD 1.x's 8 means
 * 8 heads (of 40/80/160 channels), SD 2.x's [5, 10, 20, 20] means 5/10/20/20 heads (all 64 wide).
 */
export function readUNetConfig(config: JsonObject, file = UNET_CONFIG): UNetShape {
  const f = new ConfigFields(config, file);
  if (f.has('_class_name') && f.string('_class_name') !== 'UNet2DConditionModel')
    throw new FormatError(file, '_class_name', `expected UNet2DConditionModel, got ${JSON.stringify(config._class_name)}`);
  const channels = f.ints('block_out_channels');
  const blocks = channels.length;
  if (blocks < 2) throw new FormatError(file, 'block_out_channels', `expected at least 2 blocks, got ${blocks}`);
  const down = f.strings('down_block_types');
  const expectedDown = [...new Array<string>(blocks - 1).fill('CrossAttnDownBlock2D'), 'DownBlock2D'];
  if (JSON.stringify(down) !== JSON.stringify(expectedDown))
    throw new FormatError(file, 'down_block_types', `expected ${JSON.stringify(expectedDown)} (SD 1.x/2.x), got ${JSON.stringify(down)}`);
  const up = f.strings('up_block_types');
  const expectedUp = ['UpBlock2D', ...new Array<string>(blocks - 1).fill('CrossAttnUpBlock2D')];
  if (JSON.stringify(up) !== JSON.stringify(expectedUp))
    throw new FormatError(file, 'up_block_types', `expected ${JSON.stringify(expectedUp)} (SD 1.x/2.x), got ${JSON.stringify(up)}`);

  const unsupported: [string, unknown[], string][] = [
    ['mid_block_type', ['UNetMidBlock2DCrossAttn'], 'SD 1.x/2.x mid block'],
    ['transformer_layers_per_block', [1, new Array(blocks).fill(1)], 'one transformer layer per attention, as SD 1.x/2.x'],
    ['reverse_transformer_layers_per_block', [null], 'one transformer layer per attention'],
    ['only_cross_attention', [false, new Array(blocks).fill(false)], 'attn1 is self-attention'],
    ['mid_block_only_cross_attention', [null, false], 'attn1 is self-attention'],
    ['dual_cross_attention', [false], 'single cross-attention'],
    ['class_embed_type', [null], 'no class embedding'],
    ['num_class_embeds', [null], 'no class embedding'],
    ['addition_embed_type', [null], 'no added embeddings (SDXL)'],
    ['addition_time_embed_dim', [null], 'no added embeddings (SDXL)'],
    ['projection_class_embeddings_input_dim', [null], 'no class embedding'],
    ['encoder_hid_dim', [null], 'no encoder projection'],
    ['encoder_hid_dim_type', [null], 'no encoder projection'],
    ['time_embedding_type', ['positional'], 'sinusoidal timestep features'],
    ['time_embedding_act_fn', [null], 'SiLU between the time embedding layers only'],
    ['time_cond_proj_dim', [null], 'no timestep condition'],
    ['timestep_post_act', [null], 'no activation after the time embedding'],
    ['time_embedding_dim', [null, channels[0] * 4], 'time embedding width 4 x block_out_channels[0]'],
    ['resnet_time_scale_shift', ['default'], 'additive timestep in the resnets'],
    ['resnet_skip_time_act', [false], 'SiLU before time_emb_proj'],
    ['resnet_out_scale_factor', [1, 1.0], 'unscaled resnet outputs'],
    ['mid_block_scale_factor', [1, 1.0], 'unscaled mid block'],
    ['conv_in_kernel', [3], '3x3 conv_in'],
    ['conv_out_kernel', [3], '3x3 conv_out'],
    ['act_fn', ['silu'], 'SiLU'],
    ['center_input_sample', [false], 'the sample is used as given'],
    ['downsample_padding', [1], 'padded stride-2 downsampling'],
    ['attention_type', ['default'], 'plain attention'],
    ['cross_attention_norm', [null], 'no norm on the text states'],
    ['class_embeddings_concat', [false], 'no class embedding'],
  ];
  for (const [key, allowed, why] of unsupported) f.requireDefault(key, allowed, why);
  if (f.has('cross_attention_dim') && Array.isArray(config.cross_attention_dim))
    throw new FormatError(file, 'cross_attention_dim', 'one width for all blocks expected (SD 1.x/2.x), got a list');

  const heads = f.has('num_attention_heads') ? f.intPerBlock('num_attention_heads', blocks) : f.intPerBlock('attention_head_dim', blocks, 8);
  const headsKey = f.has('num_attention_heads') ? 'num_attention_heads' : 'attention_head_dim';
  const layersPerBlock = f.intPerBlock('layers_per_block', blocks, 2);
  if (!layersPerBlock.every((n) => n === layersPerBlock[0]))
    throw new FormatError(file, 'layers_per_block', `the same count for every block expected, got ${JSON.stringify(layersPerBlock)}`);
  const normGroups = f.int('norm_num_groups', 32);
  channels.forEach((c, b) => {
    if (c % heads[b] !== 0) throw new FormatError(file, headsKey, `block ${b}: ${c} channels do not split into ${heads[b]} heads`);
    if (c % normGroups !== 0) throw new FormatError(file, 'norm_num_groups', `block ${b}: ${c} channels do not split into ${normGroups} groups`);
  });
  return {
    inChannels: f.int('in_channels', 4),
    outChannels: f.int('out_channels', 4),
    blockOutChannels: channels,
    layersPerBlock: layersPerBlock[0],
    normGroups,
    crossAttentionDim: f.int('cross_attention_dim', 1280),
    attentionHeads: heads,
    useLinearProjection: f.bool('use_linear_projection', false),
    sampleSize: f.int('sample_size', 64),
    normEps: f.number('norm_eps', 1e-5),
    flipSinToCos: f.bool('flip_sin_to_cos', true),
    freqShift: f.number('freq_shift', 0),
  };
}

/**
 * CLIPTextModel. SD uses last_hidden_state (after final_layer_norm) of the layers the config
 * lists: SD 2.x repos already ship OpenCLIP ViT-H with 23 of its 24 layers (the penultimate
 * layer the original model conditions on), so no layer is skipped here.
 */
export function readTextEncoderConfig(config: JsonObject, file = TEXT_ENCODER_CONFIG): ClipTextShape {
  const f = new ConfigFields(config, file);
  const modelType = f.string('model_type', 'clip_text_model');
  if (modelType !== 'clip_text_model') throw new FormatError(file, 'model_type', `expected clip_text_model (CLIPTextModel), got ${JSON.stringify(modelType)}`);
  if (f.has('architectures')) {
    const architectures = f.strings('architectures');
    if (!architectures.includes('CLIPTextModel'))
      throw new FormatError(file, 'architectures', `expected CLIPTextModel (Stable Diffusion 1.x/2.x), got ${JSON.stringify(architectures)}`);
  }
  const activation = f.string('hidden_act', 'quick_gelu');
  if (activation !== 'quick_gelu' && activation !== 'gelu') throw new FormatError(file, 'hidden_act', `expected quick_gelu or gelu, got ${JSON.stringify(activation)}`);
  const hiddenSize = f.int('hidden_size', 512);
  const heads = f.int('num_attention_heads', 8);
  if (hiddenSize % heads !== 0) throw new FormatError(file, 'num_attention_heads', `${hiddenSize} channels do not split into ${heads} heads`);
  return {
    vocabSize: f.int('vocab_size', 49408),
    hiddenSize,
    layers: f.int('num_hidden_layers', 12),
    heads,
    intermediateSize: f.int('intermediate_size', 2048),
    maxPositions: f.int('max_position_embeddings', 77),
    activation,
    projectionDim: f.int('projection_dim', 512),
    bosTokenId: f.int('bos_token_id', 49406, 0),
    eosTokenId: f.int('eos_token_id', 49407, 0),
    layerNormEps: f.number('layer_norm_eps', 1e-5),
  };
}

/** AutoencoderKL: the decoder half is built; the encoder half is only checked against the weights. */
export function readVaeConfig(config: JsonObject, file = VAE_CONFIG): VaeDecoderShape {
  const f = new ConfigFields(config, file);
  if (f.has('_class_name') && f.string('_class_name') !== 'AutoencoderKL')
    throw new FormatError(file, '_class_name', `expected AutoencoderKL, got ${JSON.stringify(config._class_name)}`);
  const channels = f.ints('block_out_channels', [64]);
  const blockTypes = (key: string, type: string): void => {
    if (!f.has(key)) return;
    const types = f.strings(key);
    if (types.length !== channels.length || types.some((t) => t !== type))
      throw new FormatError(file, key, `expected ${channels.length} x ${type}, got ${JSON.stringify(types)}`);
  };
  blockTypes('down_block_types', 'DownEncoderBlock2D');
  blockTypes('up_block_types', 'UpDecoderBlock2D');
  f.requireDefault('act_fn', ['silu'], 'SiLU');
  f.requireDefault('use_quant_conv', [true], 'quant_conv present');
  f.requireDefault('use_post_quant_conv', [true], 'post_quant_conv present');
  f.requireDefault('mid_block_add_attention', [true], 'attention in the mid block');
  const normGroups = f.int('norm_num_groups', 32);
  channels.forEach((c, b) => {
    if (c % normGroups !== 0) throw new FormatError(file, 'norm_num_groups', `block ${b}: ${c} channels do not split into ${normGroups} groups`);
  });
  const inChannels = f.int('in_channels', 3);
  const outChannels = f.int('out_channels', 3);
  if (inChannels !== outChannels) throw new FormatError(file, 'in_channels', `expected the image channels of out_channels (${outChannels}), got ${inChannels}`);
  return {
    latentChannels: f.int('latent_channels', 4),
    outChannels,
    blockOutChannels: channels,
    layersPerBlock: f.int('layers_per_block', 1),
    normGroups,
    sampleSize: f.int('sample_size', 32),
    scalingFactor: f.number('scaling_factor', 0.18215),
  };
}
