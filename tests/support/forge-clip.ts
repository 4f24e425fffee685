import { attr, GraphBuilder } from '../../src/model/builders/graph-builder.ts';
import { modelBytes } from '../../src/model/builders/model-file.ts';
import { forgeClipTokenizerFiles, type ForgedClipTokenizerFiles } from '../../src/model/forge/tokenizer-files.ts';
import { TensorDataType } from '../../src/formats/onnx/types.ts';
import { buildClipTokenizerJson } from '../../src/pipeline/tokenizer/clip-tokenizer-json.ts';
import { parseClipTokenizerFiles } from '../../src/pipeline/tokenizer/clip-tokenizer-files.ts';

/** Sizes of the tiny CLIP: 32px images in 8px patches, 24-wide towers, 16-dim joint space. */
const IMAGE = 32;
const PATCH = 8;
const WIDTH = 24;
const PROJECTION = 16;

/**
 * A tiny CLIP in the hub layout transformers.js loads with CLIPTextModelWithProjection and
 * CLIPVisionModelWithProjection: config.json, preprocessor_config.json (CLIPImageProcessor),
 * tokenizer.json + tokenizer_config.json (CLIPTokenizer, the project's forged BPE),
 * onnx/text_model.onnx (input_ids -> text_embeds: token embedding, mean over tokens, projection)
 * and onnx/vision_model.onnx (pixel_values -> image_embeds: patch convolution, mean, projection).
 * Seeded random weights: its numbers mean nothing, the path through the library is real.
 */
export async function forgeTinyClip(seed = 5): Promise<{ files: Map<string, Uint8Array>; tokenizer: ForgedClipTokenizerFiles }> {
  const tokenizer = forgeClipTokenizerFiles({ variant: 'sd15', extraCorpus: ['a photo of the cat', 'a photo of the dog', 'a photo of the ship'] });
  const vocabulary = parseClipTokenizerFiles(tokenizer);
  const text = new GraphBuilder('fp32', 17);
  {
    const root = text.root();
    const ids = text.addInput('input_ids', TensorDataType.INT64, ['batch_size', 'sequence_length']);
    const embedding = root.child('text_model').child('embeddings').child('token_embedding').param('weight', [vocabulary.vocabSize, WIDTH], { kind: 'normal', std: 0.5 });
    const tokens = root.child('text_model').child('embeddings').op('Gather', [embedding, ids]);
    const pooled = root.child('text_model').op('ReduceMean', [tokens], { axes: attr.ints([1]), keepdims: attr.int(0) });
    const projection = root.child('text_projection').anonymous('MatMul', 'weight', [PROJECTION, WIDTH], [WIDTH, PROJECTION], { kind: 'normal', std: 0.3 }, true);
    root.child('text_projection').op('MatMul', [pooled, projection], {}, 'text_embeds');
    text.addOutput('text_embeds', TensorDataType.FLOAT, ['batch_size', PROJECTION]);
  }
  const vision = new GraphBuilder('fp32', 17);
  {
    const root = vision.root();
    const pixels = vision.addInput('pixel_values', TensorDataType.FLOAT, ['batch_size', 3, IMAGE, IMAGE]);
    const patches = root.child('vision_model').child('embeddings').child('patch_embedding');
    const weight = patches.param('weight', [WIDTH, 3, PATCH, PATCH], { kind: 'normal', std: 0.1 });
    const conv = patches.op('Conv', [pixels, weight], { kernel_shape: attr.ints([PATCH, PATCH]), strides: attr.ints([PATCH, PATCH]) });
    const pooled = root.child('vision_model').op('ReduceMean', [conv], { axes: attr.ints([2, 3]), keepdims: attr.int(0) });
    const projection = root.child('visual_projection').anonymous('MatMul', 'weight', [PROJECTION, WIDTH], [WIDTH, PROJECTION], { kind: 'normal', std: 0.3 }, true);
    root.child('visual_projection').op('MatMul', [pooled, projection], {}, 'image_embeds');
    vision.addOutput('image_embeds', TensorDataType.FLOAT, ['batch_size', PROJECTION]);
  }
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2));
  const special = vocabulary.specialTokens;
  const files = new Map<string, Uint8Array>([
    [
      'config.json',
      json({
        architectures: ['CLIPModel'],
        model_type: 'clip',
        projection_dim: PROJECTION,
        logit_scale_init_value: 2.6592,
        text_config: { model_type: 'clip_text_model', hidden_size: WIDTH, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: WIDTH, max_position_embeddings: 77, vocab_size: vocabulary.vocabSize, projection_dim: PROJECTION },
        vision_config: { model_type: 'clip_vision_model', hidden_size: WIDTH, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: WIDTH, image_size: IMAGE, patch_size: PATCH, projection_dim: PROJECTION },
      }),
    ],
    [
      'preprocessor_config.json',
      json({
        image_processor_type: 'CLIPImageProcessor',
        feature_extractor_type: 'CLIPFeatureExtractor',
        do_resize: true,
        size: { shortest_edge: IMAGE },
        resample: 3,
        do_center_crop: true,
        crop_size: { height: IMAGE, width: IMAGE },
        do_rescale: true,
        rescale_factor: 1 / 255,
        do_normalize: true,
        do_convert_rgb: true,
        image_mean: CLIP_MEAN,
        image_std: CLIP_STD,
      }),
    ],
    ['tokenizer.json', json(buildClipTokenizerJson(vocabulary))],
    ['tokenizer_config.json', json({ tokenizer_class: 'CLIPTokenizer', model_max_length: 77, bos_token: special.bos, eos_token: special.eos, unk_token: special.unk, pad_token: special.pad, do_lower_case: true })],
    ['special_tokens_map.json', new TextEncoder().encode(tokenizer.specialTokensMapJson)],
    ['onnx/text_model.onnx', await modelBytes(text, seed, 'text_model.onnx')],
    ['onnx/vision_model.onnx', await modelBytes(vision, seed + 1, 'vision_model.onnx')],
  ]);
  return { files, tokenizer };
}

/** CLIPImageProcessor's normalization constants (the reference preprocessing in tests). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
export const TINY_CLIP_IMAGE = IMAGE;
