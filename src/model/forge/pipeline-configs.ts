/**
 * The JSON files of an export, with the keys diffusers/transformers write: model_index.json as
 * OnnxStableDiffusionPipeline saves it, the scheduler of SD 1.5 (PNDM, epsilon) or SD 2.1
 * (DDIM, v_prediction), and each component's config.json as optimum copies it next to the model.
 */
import type { ClipTextShape } from '../builders/clip-text.ts';
import type { ForgePreset } from './presets.ts';

const DIFFUSERS_VERSION = '0.30.0';
type Json = Record<string, unknown>;

export function modelIndexFor(preset: ForgePreset): Json {
  const onnx = ['diffusers', 'OnnxRuntimeModel'];
  return {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    feature_extractor: [null, null],
    image_encoder: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', schedulerClass(preset)],
    text_encoder: onnx,
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: onnx,
    vae_decoder: onnx,
    vae_encoder: [null, null],
  };
}

function schedulerClass(preset: ForgePreset): string {
  return preset.predictionType === 'v_prediction' ? 'DDIMScheduler' : 'PNDMScheduler';
}

export function schedulerConfig(preset: ForgePreset): Json {
  const common = {
    _diffusers_version: DIFFUSERS_VERSION,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    num_train_timesteps: 1000,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
  };
  return { _class_name: schedulerClass(preset), ...common, prediction_type: preset.predictionType };
}

export function unetConfig(preset: ForgePreset): Json {
  const u = preset.unet;
  const heads = preset.family === 'sd15' && u.attentionHeads.every((h) => h === u.attentionHeads[0]) ? u.attentionHeads[0] : u.attentionHeads;
  return {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    attention_head_dim: heads,
    block_out_channels: u.blockOutChannels,
    center_input_sample: false,
    cross_attention_dim: u.crossAttentionDim,
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    downsample_padding: 1,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: u.inChannels,
    layers_per_block: u.layersPerBlock,
    mid_block_scale_factor: 1,
    norm_eps: 1e-5,
    norm_num_groups: u.normGroups,
    out_channels: u.outChannels,
    sample_size: u.sampleSize,
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
    use_linear_projection: u.useLinearProjection,
  };
}

export function textEncoderConfig(shape: ClipTextShape): Json {
  return {
    _name_or_path: 'lethe-forge',
    architectures: ['CLIPTextModel'],
    attention_dropout: 0,
    bos_token_id: shape.bosTokenId,
    eos_token_id: shape.eosTokenId,
    hidden_act: shape.activation,
    hidden_size: shape.hiddenSize,
    initializer_factor: 1,
    initializer_range: 0.02,
    intermediate_size: shape.intermediateSize,
    layer_norm_eps: 1e-5,
    max_position_embeddings: shape.maxPositions,
    model_type: 'clip_text_model',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    pad_token_id: 1,
    projection_dim: shape.projectionDim,
    torch_dtype: 'float32',
    vocab_size: shape.vocabSize,
  };
}

export function vaeDecoderConfig(preset: ForgePreset): Json {
  const v = preset.vae;
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    block_out_channels: v.blockOutChannels,
    down_block_types: v.blockOutChannels.map(() => 'DownEncoderBlock2D'),
    in_channels: v.outChannels,
    latent_channels: v.latentChannels,
    layers_per_block: v.layersPerBlock,
    norm_num_groups: v.normGroups,
    out_channels: v.outChannels,
    sample_size: v.sampleSize,
    scaling_factor: v.scalingFactor,
    up_block_types: v.blockOutChannels.map(() => 'UpDecoderBlock2D'),
  };
}
