/**
 * A Lethe pack straight from a diffusers Stable Diffusion 1.x/2.x repo (model_index.json,
 * unet/, text_encoder/, vae/, tokenizer/, scheduler/ with safetensors weights).
 *
 * The configs give the shapes; the forge's graph builders build the text encoder, UNet and VAE
 * decoder graphs exactly as an optimum ONNX export lays them out; every parameter is bound to a
 * tensor of the checkpoint (bind-weights.ts: nothing missing, nothing extra, shapes as the config
 * implies). The graphs and their weights are presented to the ONNX-export converter as a
 * VirtualExport, so splitting the UNet into pieces and replacing attn2 to_k/to_v by k_<i>/v_<i>
 * inputs has one implementation. Weights never exist twice: the converter's ranged reads of the
 * virtual model.onnx_data become ranged reads of the safetensors, tensor by tensor.
 */
import { FormatError, InputError } from '../../util/errors.ts';
import { convertExport, type ConvertProgress } from '../converter/convert.ts';
import type { PackSink } from '../converter/files.ts';
import type { ExportSource } from '../sources/export-source.ts';
import type { PiecePlan } from '../converter/pieces.ts';
import { buildClipText } from '../builders/clip-text.ts';
import type { GraphBuilder, WeightSpec } from '../builders/graph-builder.ts';
import { modelBytesFrom, modelWithExternalLayout, storedByteLength, type WeightProvider } from '../builders/model-file.ts';
import { buildUNet } from '../builders/unet.ts';
import { buildVaeDecoder } from '../builders/vae-decoder.ts';
import { vaeEncoderParameters } from '../builders/vae-encoder-params.ts';
import type { PackManifest } from '../manifest.ts';
import { bindWeights, modernVaeAttentionName, storedBytes, type BoundWeights, type PackDtype } from './bind-weights.ts';
import { openCheckpoint, readRangeOf, type ComponentCheckpoint, type WeightVariant } from './checkpoint.ts';
import { parseJsonObject, type JsonObject } from '../../util/json-fields.ts';
import { readTextEncoderConfig, readUNetConfig, readVaeConfig, TEXT_ENCODER_CONFIG, UNET_CONFIG, VAE_CONFIG } from './configs.ts';
import { VirtualExport, type LazyFile } from './virtual-export.ts';

export interface DiffusersPackOptions {
  /** UNet pieces: `default` (down, mid, up) or `blocks`. */
  plan?: PiecePlan;
  /** Pack float type. Default: fp32 when every weight read is F32, else fp16 (BF16 is converted). */
  dtype?: PackDtype;
  /** `auto` (default): the `.fp16` weight files where present. `fp16` / `main`: only those. */
  variant?: WeightVariant;
  opset?: 14 | 17;
  /** A text encoder / VAE decoder with this many weight bytes or more is streamed as external data (default 64 MiB); the UNet always is. */
  externalAbove?: number;
  onProgress?: (progress: ConvertProgress) => void;
  signal?: AbortSignal;
}

export const PIPELINE_CLASSES = ['StableDiffusionPipeline'];
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];
const SCHEDULER_FILE = 'scheduler/scheduler_config.json';

export async function buildPackFromDiffusers(source: ExportSource, sink: PackSink, options: DiffusersPackOptions = {}): Promise<PackManifest> {
  const variant = options.variant ?? 'auto';
  if (!['auto', 'fp16', 'main'].includes(variant)) throw new InputError(`buildPackFromDiffusers: variant must be auto, fp16 or main, got "${String(variant)}"`);
  if (options.dtype !== undefined && options.dtype !== 'fp16' && options.dtype !== 'fp32')
    throw new InputError(`buildPackFromDiffusers: dtype must be fp16 or fp32, got "${String(options.dtype)}"`);
  const opset = options.opset ?? 14;
  const externalAbove = options.externalAbove ?? 64 * 1024 * 1024;

  const modelIndex = await requiredJson(source, 'model_index.json', 'to know the pipeline');
  const pipeline = modelIndex._class_name;
  if (typeof pipeline !== 'string' || !PIPELINE_CLASSES.includes(pipeline))
    throw new FormatError('model_index.json', '_class_name', `expected ${PIPELINE_CLASSES.join(' or ')} (Stable Diffusion 1.x/2.x), got ${JSON.stringify(pipeline)}`);
  const unetConfig = await requiredJson(source, UNET_CONFIG, 'for the UNet');
  const textConfig = await requiredJson(source, TEXT_ENCODER_CONFIG, 'for the text encoder');
  const vaeConfig = await requiredJson(source, VAE_CONFIG, 'for the VAE');
  const unetShape = readUNetConfig(unetConfig);
  const textShape = readTextEncoderConfig(textConfig);
  const vaeShape = readVaeConfig(vaeConfig);
  if (textShape.hiddenSize !== unetShape.crossAttentionDim)
    throw new FormatError(UNET_CONFIG, 'cross_attention_dim', `${unetShape.crossAttentionDim}, but ${TEXT_ENCODER_CONFIG} hidden_size is ${textShape.hiddenSize}`);
  if (vaeShape.latentChannels !== unetShape.inChannels)
    throw new FormatError(VAE_CONFIG, 'latent_channels', `${vaeShape.latentChannels}, but ${UNET_CONFIG} in_channels is ${unetShape.inChannels}`);
  if ((await source.size(SCHEDULER_FILE)) === undefined) throw new FormatError(SCHEDULER_FILE, '(file)', 'missing from the repo');

  const checkpoints = {
    text: await openCheckpoint(source, 'text_encoder', 'model', variant),
    unet: await openCheckpoint(source, 'unet', 'diffusion_pytorch_model', variant),
    vae: await openCheckpoint(source, 'vae', 'diffusion_pytorch_model', variant),
  };
  const dtype = options.dtype ?? inferDtype(Object.values(checkpoints));
  options.signal?.throwIfAborted();

  const textGraph = buildClipText(textShape, { dtype, opset });
  const unetGraph = buildUNet(unetShape, { dtype, opset, timestepType: 'int64' }).graph;
  const vaeGraph = buildVaeDecoder(vaeShape, { dtype, opset });
  const bound = {
    text: bindWeights(checkpoints.text, textGraph.weights, { buffers: new Map([['text_model.embeddings.position_ids', [1, textShape.maxPositions]]]) }),
    unet: bindWeights(checkpoints.unet, unetGraph.weights),
    vae: bindWeights(checkpoints.vae, vaeGraph.weights, { unused: vaeEncoderParameters(vaeShape), canonicalName: modernVaeAttentionName }),
  };

  const whole = new Map<string, Uint8Array>();
  const lazy = new Map<string, LazyFile>();
  const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  whole.set('model_index.json', json(onnxModelIndex(modelIndex)));
  whole.set(SCHEDULER_FILE, await source.read(SCHEDULER_FILE));
  for (const name of TOKENIZER_FILES) {
    const path = `tokenizer/${name}`;
    if ((await source.size(path)) !== undefined) whole.set(path, await source.read(path));
  }
  whole.set('text_encoder/config.json', json(textConfig));
  whole.set('unet/config.json', json(unetConfig));
  whole.set('vae_decoder/config.json', json(vaeConfig));

  const components: [string, GraphBuilder, BoundWeights, boolean][] = [
    ['text_encoder', textGraph, bound.text, false],
    ['unet', unetGraph, bound.unet, true],
    ['vae_decoder', vaeGraph, bound.vae, false],
  ];
  for (const [component, graph, weights, alwaysExternal] of components) {
    const provider = weightProvider(source, weights, dtype);
    const file = `${component}/model.onnx`;
    const weightBytes = graph.weights.reduce((sum, spec) => sum + storedByteLength(spec, graph), 0);
    if (!alwaysExternal && weightBytes < externalAbove) {
      whole.set(file, await modelBytesFrom(graph, provider, file));
      continue;
    }
    const { model, placements, dataBytes } = await modelWithExternalLayout(graph, provider, file, 'model.onnx_data');
    whole.set(file, model);
    lazy.set(`${component}/model.onnx_data`, {
      size: dataBytes,
      parts: placements.map(({ spec, offset, length }) => ({ offset, length, produce: async () => provider(spec) })),
    });
  }

  return convertExport(new VirtualExport(whole, lazy), sink, { plan: options.plan, onProgress: options.onProgress, signal: options.signal });
}

/** fp32 when every tensor of the chosen files is F32; otherwise fp16 (fp16 files, or bf16 ones, which fp16 holds with more mantissa). */
function inferDtype(checkpoints: ComponentCheckpoint[]): PackDtype {
  for (const checkpoint of checkpoints)
    for (const { entry } of checkpoint.tensors.values()) if (entry.dtype === 'F16' || entry.dtype === 'BF16') return 'fp16';
  return 'fp32';
}

function weightProvider(source: ExportSource, weights: BoundWeights, dtype: PackDtype): WeightProvider {
  return async (spec: WeightSpec) => {
    const location = weights.get(spec.param);
    if (!location) throw new Error(`diffusers pack builder: ${spec.param} was not bound`);
    const raw = await readRangeOf(source, location.file, location.entry.start, location.entry.end - location.entry.start);
    return storedBytes(raw, location, spec, dtype);
  };
}

/** model_index.json as OnnxStableDiffusionPipeline writes it, keeping the repo's scheduler. */
function onnxModelIndex(index: JsonObject): JsonObject {
  const onnx = ['diffusers', 'OnnxRuntimeModel'];
  return {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: index._diffusers_version ?? null,
    scheduler: index.scheduler ?? null,
    text_encoder: onnx,
    tokenizer: index.tokenizer ?? ['transformers', 'CLIPTokenizer'],
    unet: onnx,
    vae_decoder: onnx,
    vae_encoder: [null, null],
    safety_checker: [null, null],
    feature_extractor: [null, null],
    requires_safety_checker: false,
  };
}

async function requiredJson(source: ExportSource, path: string, why: string): Promise<JsonObject> {
  if ((await source.size(path)) === undefined) throw new FormatError(path, '(file)', `missing from the repo (needed ${why})`);
  return parseJsonObject(await source.read(path), path);
}
