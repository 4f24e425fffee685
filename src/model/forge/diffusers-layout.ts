/**
 * The forge's second layout: a diffusers repo as `save_pretrained` writes StableDiffusionPipeline,
 * with the same seeded weights as the ONNX export of the same options (each parameter is drawn
 * from its torch name, so both layouts hold identical values):
 *
 *   model_index.json, scheduler/, tokenizer/,
 *   text_encoder/config.json + model.safetensors,
 *   unet/config.json + diffusion_pytorch_model.safetensors,
 *   vae/config.json + diffusion_pytorch_model.safetensors (the whole AutoencoderKL: encoder,
 *   quant_conv, post_quant_conv, decoder, as real repos hold it)
 *
 * Weights are in the torch layout ([out, in] for Linear) under the modules' state_dict names.
 * fp32 writes `<name>.safetensors`; fp16 writes the `<name>.fp16.safetensors` variant; fp32 with
 * `fp16Variant` writes both, as the official repos do.
 */
import { toHalf } from '../../util/half.ts';
import { bytesOf, type WeightSpec } from '../builders/graph-builder.ts';
import { safetensorsStreamHeader, type StreamedTensor } from './safetensors-stream.ts';
import { parameterValues } from '../builders/weight-values.ts';
import type { ForgePreset } from './presets.ts';

const DIFFUSERS_VERSION = '0.30.0';

export function diffusersModelIndexFor(preset: ForgePreset): Record<string, unknown> {
  return {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    feature_extractor: [null, null],
    image_encoder: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', preset.predictionType === 'v_prediction' ? 'DDIMScheduler' : 'PNDMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
}

/** A streamed file the forge writes to. */
export interface StreamTarget {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Writes the parameters of `specs` (torch names, torch shapes, sorted by name) as one safetensors
 * file of `dtype`, one tensor at a time. Returns the bytes written.
 */
export async function writeSafetensorsWeights(specs: readonly WeightSpec[], seed: number, dtype: 'F32' | 'F16', target: StreamTarget): Promise<number> {
  const byName = new Map<string, WeightSpec>();
  for (const spec of specs) {
    if (byName.has(spec.param)) throw new Error(`forge: parameter ${spec.param} appears twice`);
    byName.set(spec.param, spec);
  }
  const ordered = [...byName.values()].sort((a, b) => (a.param < b.param ? -1 : a.param > b.param ? 1 : 0));
  const tensors: StreamedTensor[] = ordered.map((spec) => ({ name: spec.param, dtype, shape: spec.torchDims }));
  const { header, lengths } = safetensorsStreamHeader(tensors);
  await target.write(header);
  let written = header.byteLength;
  for (let i = 0; i < ordered.length; i++) {
    const values = parameterValues(ordered[i], seed);
    const bytes = dtype === 'F32' ? bytesOf(values) : bytesOf(toHalf(values));
    if (bytes.byteLength !== lengths[i]) throw new Error(`forge: ${ordered[i].param} has ${bytes.byteLength} bytes, expected ${lengths[i]}`);
    await target.write(bytes);
    written += bytes.byteLength;
  }
  await target.close();
  return written;
}
