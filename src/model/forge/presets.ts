/**
 * What the forge can make. The tiny presets keep SD's topology (every block, all 16
 * cross-attention transformers) at widths that run in milliseconds on a CPU or SwiftShader;
 * the -shapes presets have the real dimensions, with random weights, for measuring speed and
 * memory at true scale.
 */
import type { ClipTextShape } from '../builders/clip-text.ts';
import type { UNetShape } from '../builders/unet.ts';
import type { VaeDecoderShape } from '../builders/vae-decoder.ts';

export type ForgePresetName = 'tiny-sd15' | 'tiny-sd21' | 'sd15-shapes' | 'sd21-shapes';
export const FORGE_PRESETS: readonly ForgePresetName[] = ['tiny-sd15', 'tiny-sd21', 'sd15-shapes', 'sd21-shapes'];

export interface ForgePreset {
  name: ForgePresetName;
  family: 'sd15' | 'sd21';
  /** Text encoder dims; vocabSize and token ids come from the generated tokenizer when 0. */
  text: Omit<ClipTextShape, 'vocabSize' | 'bosTokenId' | 'eosTokenId'> & { vocabSize: number };
  unet: UNetShape;
  vae: VaeDecoderShape;
  predictionType: 'epsilon' | 'v_prediction';
  /** Real exports put the UNet's weights in model.onnx_data; the others inline unless too big for one protobuf. */
  externalDataMinBytes: number;
}

const TINY_VAE: VaeDecoderShape = {
  latentChannels: 4,
  outChannels: 3,
  blockOutChannels: [16, 32, 32, 32],
  layersPerBlock: 2,
  normGroups: 8,
  sampleSize: 64,
  scalingFactor: 0.18215,
};

const REAL_VAE: VaeDecoderShape = {
  latentChannels: 4,
  outChannels: 3,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  normGroups: 32,
  sampleSize: 512,
  scalingFactor: 0.18215,
};

const ONE_GIB = 2 ** 30;

const PRESETS: Record<ForgePresetName, ForgePreset> = {
  'tiny-sd15': {
    name: 'tiny-sd15',
    family: 'sd15',
    text: { vocabSize: 0, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64, maxPositions: 77, activation: 'quick_gelu', projectionDim: 32 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [16, 32, 32, 32],
      layersPerBlock: 2,
      normGroups: 8,
      crossAttentionDim: 32,
      attentionHeads: [2, 2, 2, 2],
      useLinearProjection: false,
      sampleSize: 8,
    },
    vae: TINY_VAE,
    predictionType: 'epsilon',
    externalDataMinBytes: ONE_GIB,
  },
  'tiny-sd21': {
    name: 'tiny-sd21',
    family: 'sd21',
    text: { vocabSize: 0, hiddenSize: 48, layers: 3, heads: 3, intermediateSize: 96, maxPositions: 77, activation: 'gelu', projectionDim: 24 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [16, 32, 32, 32],
      layersPerBlock: 2,
      normGroups: 8,
      crossAttentionDim: 48,
      // SD 2.x: attention_head_dim [5, 10, 20, 20] (64-wide heads); here 8-wide heads.
      attentionHeads: [2, 4, 4, 4],
      useLinearProjection: true,
      sampleSize: 8,
    },
    vae: { ...TINY_VAE, sampleSize: 64 },
    predictionType: 'v_prediction',
    externalDataMinBytes: ONE_GIB,
  },
  'sd15-shapes': {
    name: 'sd15-shapes',
    family: 'sd15',
    text: { vocabSize: 49408, hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072, maxPositions: 77, activation: 'quick_gelu', projectionDim: 768 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [320, 640, 1280, 1280],
      layersPerBlock: 2,
      normGroups: 32,
      crossAttentionDim: 768,
      attentionHeads: [8, 8, 8, 8],
      useLinearProjection: false,
      sampleSize: 64,
    },
    vae: REAL_VAE,
    predictionType: 'epsilon',
    externalDataMinBytes: ONE_GIB,
  },
  'sd21-shapes': {
    name: 'sd21-shapes',
    family: 'sd21',
    // stable-diffusion-2-1's text_encoder/config.json: 23 layers (OpenCLIP ViT-H minus its last).
    text: { vocabSize: 49408, hiddenSize: 1024, layers: 23, heads: 16, intermediateSize: 4096, maxPositions: 77, activation: 'gelu', projectionDim: 512 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [320, 640, 1280, 1280],
      layersPerBlock: 2,
      normGroups: 32,
      crossAttentionDim: 1024,
      attentionHeads: [5, 10, 20, 20],
      useLinearProjection: true,
      sampleSize: 96,
    },
    vae: { ...REAL_VAE, sampleSize: 768 },
    predictionType: 'v_prediction',
    externalDataMinBytes: ONE_GIB,
  },
};

export function forgePreset(name: string): ForgePreset {
  if (!(name in PRESETS)) throw new Error(`forge: unknown preset "${name}"; expected one of ${FORGE_PRESETS.join(', ')}`);
  return PRESETS[name as ForgePresetName];
}
