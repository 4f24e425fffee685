/**
 * The forge: a diffusers/optimum-style ONNX export of a Stable Diffusion model with seeded random
 * weights, file for file as real exports lay it out:
 *
 *   model_index.json, scheduler/scheduler_config.json, tokenizer/*,
 *   text_encoder/model.onnx, unet/model.onnx + unet/model.onnx_data, vae_decoder/model.onnx
 *   (+ each component's config.json, as optimum writes them)
 *
 * With `layout: 'diffusers'` the same weights are written as a diffusers repo instead
 * (diffusers-layout.ts): safetensors under torch parameter names, vae/ in place of vae_decoder/.
 *
 * Works in the browser (forgeInMemory) and in Node (forge-to-directory.ts streams to disk).
 * The same options give the same bytes.
 */
import { InputError } from '../../util/errors.ts';
import { buildClipText, type ClipTextShape } from '../builders/clip-text.ts';
import type { GraphDtype, GraphBuilder } from '../builders/graph-builder.ts';
import { modelBytes, type ByteSink } from '../builders/model-file.ts';
import { modelIndexFor, schedulerConfig, textEncoderConfig, unetConfig, vaeDecoderConfig } from './pipeline-configs.ts';
import { FORGE_PRESETS, forgePreset, type ForgePreset, type ForgePresetName } from './presets.ts';
import { forgeClipTokenizerFiles } from './tokenizer-files.ts';
import { buildUNet, type CrossAttentionLayer } from '../builders/unet.ts';
import { buildVaeDecoder } from '../builders/vae-decoder.ts';
import { diffusersModelIndexFor, writeSafetensorsWeights } from './diffusers-layout.ts';
import { vaeEncoderParameters } from '../builders/vae-encoder-params.ts';
import type { WeightSpec } from '../builders/graph-builder.ts';

export type ForgeLayout = 'onnx' | 'diffusers';

export interface ForgeOptions {
  preset: ForgePresetName;
  seed: number;
  dtype?: GraphDtype;
  /** 14 (diffusers' conversion script, optimum's UNet default) or 17 (LayerNormalization). */
  opset?: 14 | 17;
  /** optimum: int64 (default); diffusers' conversion script: float32. */
  timestepType?: 'int64' | 'float32';
  /** 'onnx' (default): a diffusers/optimum ONNX export. 'diffusers': a diffusers repo with safetensors weights. */
  layout?: ForgeLayout;
  /** diffusers layout, fp32: also write the `.fp16.safetensors` variant of every weight file. */
  fp16Variant?: boolean;
}

/** Where forged files go: whole small files, and large ones streamed. */
export interface ForgeSink {
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  /** Opens `path` for sequential writes; `close` resolves once it is complete. */
  openStream(path: string): Promise<ByteSink & { close(): Promise<void> }>;
}

export interface ForgedFile {
  path: string;
  bytes: number;
}

export interface ForgeSummary {
  preset: ForgePresetName;
  family: 'sd15' | 'sd21';
  seed: number;
  dtype: GraphDtype;
  opset: 14 | 17;
  layout: ForgeLayout;
  files: ForgedFile[];
  text: ClipTextShape;
  /** Every attn2 in the UNet, in graph order. */
  crossAttention: CrossAttentionLayer[];
}

export async function forgeInto(options: ForgeOptions, sink: ForgeSink): Promise<ForgeSummary> {
  const resolved = resolveOptions(options);
  const { preset, seed, dtype, opset } = resolved;
  const files: ForgedFile[] = [];
  const writeFile = async (path: string, bytes: Uint8Array): Promise<void> => {
    await sink.writeFile(path, bytes);
    files.push({ path, bytes: bytes.byteLength });
  };
  const writeJson = (path: string, value: unknown): Promise<void> => writeFile(path, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));

  const diffusers = resolved.layout === 'diffusers';
  await writeJson('model_index.json', diffusers ? diffusersModelIndexFor(preset) : modelIndexFor(preset));
  await writeJson('scheduler/scheduler_config.json', schedulerConfig(preset));

  const tokenizer = tokenizerFiles(preset);
  for (const [path, bytes] of tokenizer.files) await writeFile(`tokenizer/${path}`, bytes);

  const text: ClipTextShape = {
    ...preset.text,
    vocabSize: preset.text.vocabSize || tokenizer.vocabSize,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenId: tokenizer.eosTokenId,
  };
  if (tokenizer.vocabSize > text.vocabSize)
    throw new Error(`forge: ${preset.name}: the tokenizer has ${tokenizer.vocabSize} ids, the text encoder ${text.vocabSize}`);
  await writeJson('text_encoder/config.json', textEncoderConfig(text));
  const textGraph = buildClipText(text, { dtype, opset });
  if (diffusers) await writeWeights('text_encoder/model', textGraph.weights, resolved, sink, files);
  else await writeModel('text_encoder', textGraph, resolved, sink, writeFile, files);

  const unet = buildUNet(preset.unet, { dtype, opset, timestepType: resolved.timestepType });
  await writeJson('unet/config.json', unetConfig(preset));
  if (diffusers) await writeWeights('unet/diffusion_pytorch_model', unet.graph.weights, resolved, sink, files);
  else await writeModel('unet', unet.graph, resolved, sink, writeFile, files, true);

  const vaeGraph = buildVaeDecoder(preset.vae, { dtype, opset });
  if (diffusers) {
    await writeJson('vae/config.json', vaeDecoderConfig(preset));
    await writeWeights('vae/diffusion_pytorch_model', [...vaeEncoderParameters(preset.vae), ...vaeGraph.weights], resolved, sink, files);
  } else {
    await writeJson('vae_decoder/config.json', vaeDecoderConfig(preset));
    await writeModel('vae_decoder', vaeGraph, resolved, sink, writeFile, files);
  }

  return { preset: preset.name, family: preset.family, seed, dtype, opset, layout: resolved.layout, files, text, crossAttention: unet.crossAttention };
}

/** All files in memory, keyed by path (for the browser demo pack and tests; tiny presets only). */
export async function forgeInMemory(options: ForgeOptions): Promise<{ files: Map<string, Uint8Array>; summary: ForgeSummary }> {
  const files = new Map<string, Uint8Array>();
  const summary = await forgeInto(options, {
    writeFile: async (path, bytes) => void files.set(path, bytes),
    openStream: async (path) => {
      const chunks: Uint8Array[] = [];
      return {
        write: async (bytes) => void chunks.push(bytes),
        close: async () => void files.set(path, concat(chunks)),
      };
    },
  });
  return { files, summary };
}

interface ResolvedOptions {
  preset: ForgePreset;
  seed: number;
  dtype: GraphDtype;
  opset: 14 | 17;
  timestepType: 'int64' | 'float32';
  layout: ForgeLayout;
  fp16Variant: boolean;
}

function resolveOptions(options: ForgeOptions): ResolvedOptions {
  if (!FORGE_PRESETS.includes(options.preset)) throw new InputError(`forge: preset must be one of ${FORGE_PRESETS.join(', ')}, got "${options.preset}"`);
  if (!Number.isSafeInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff)
    throw new InputError(`forge: seed must be an integer in [0, 2^32), got ${options.seed}`);
  const dtype = options.dtype ?? 'fp32';
  if (dtype !== 'fp32' && dtype !== 'fp16') throw new InputError(`forge: dtype must be fp32 or fp16, got "${String(dtype)}"`);
  const opset = options.opset ?? 14;
  if (opset !== 14 && opset !== 17) throw new InputError(`forge: opset must be 14 or 17, got ${String(opset)}`);
  const timestepType = options.timestepType ?? 'int64';
  if (timestepType !== 'int64' && timestepType !== 'float32') throw new InputError(`forge: timestepType must be int64 or float32, got "${String(timestepType)}"`);
  const layout = options.layout ?? 'onnx';
  if (layout !== 'onnx' && layout !== 'diffusers') throw new InputError(`forge: layout must be onnx or diffusers, got "${String(layout)}"`);
  const fp16Variant = options.fp16Variant ?? false;
  if (fp16Variant && (layout !== 'diffusers' || dtype !== 'fp32'))
    throw new InputError('forge: fp16Variant applies to the diffusers layout in fp32 (the fp16 forging writes only the variant)');
  return { preset: forgePreset(options.preset), seed: options.seed, dtype, opset, timestepType, layout, fp16Variant };
}

/**
 * Writes `<component>/model.onnx`; with external data (always for the UNet, as optimum does, and
 * for anything too big for one protobuf) the weights stream to `<component>/model.onnx_data`.
 */
async function writeModel(
  component: string,
  graph: GraphBuilder,
  options: ResolvedOptions,
  sink: ForgeSink,
  writeFile: (path: string, bytes: Uint8Array) => Promise<void>,
  files: ForgedFile[],
  alwaysExternal = false,
): Promise<void> {
  const weightBytes = graph.weights.reduce((sum, w) => sum + w.dims.reduce((a, b) => a * b, 1), 0) * (graph.dtype === 'fp16' ? 2 : 4);
  const path = `${component}/model.onnx`;
  if (!alwaysExternal && weightBytes < options.preset.externalDataMinBytes) {
    await writeFile(path, await modelBytes(graph, options.seed, path));
    return;
  }
  const dataPath = `${path}_data`;
  const stream = await sink.openStream(dataPath);
  let written = 0;
  const model = await modelBytes(graph, options.seed, path, {
    location: 'model.onnx_data',
    sink: { write: async (bytes) => { written += bytes.byteLength; await stream.write(bytes); } },
  });
  await stream.close();
  files.push({ path: dataPath, bytes: written });
  await writeFile(path, model);
}

/** `<base>.safetensors` in fp32 (+ `<base>.fp16.safetensors` with fp16Variant), or only the fp16 variant. */
async function writeWeights(base: string, specs: readonly WeightSpec[], options: ResolvedOptions, sink: ForgeSink, files: ForgedFile[]): Promise<void> {
  const variants: [string, 'F32' | 'F16'][] = [];
  if (options.dtype === 'fp32') variants.push([`${base}.safetensors`, 'F32']);
  if (options.dtype === 'fp16' || options.fp16Variant) variants.push([`${base}.fp16.safetensors`, 'F16']);
  for (const [path, dtype] of variants) {
    const bytes = await writeSafetensorsWeights(specs, options.seed, dtype, await sink.openStream(path));
    files.push({ path, bytes });
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

interface TokenizerFiles {
  files: [string, Uint8Array][];
  vocabSize: number;
  bosTokenId: number;
  eosTokenId: number;
}

/** The generated CLIP tokenizer files, and the ids the text encoder must cover. */
function tokenizerFiles(preset: ForgePreset): TokenizerFiles {
  const generated = forgeClipTokenizerFiles({ variant: preset.family });
  const text = (value: string): Uint8Array => new TextEncoder().encode(value);
  const vocab = JSON.parse(generated.vocabJson) as Record<string, number>;
  const bos = vocab['<|startoftext|>'];
  const eos = vocab['<|endoftext|>'];
  if (bos === undefined || eos === undefined) throw new Error('forge: the generated vocab.json lacks <|startoftext|> or <|endoftext|>');
  return {
    files: [
      ['merges.txt', text(generated.mergesTxt)],
      ['special_tokens_map.json', text(generated.specialTokensMapJson)],
      ['tokenizer_config.json', text(generated.tokenizerConfigJson)],
      ['vocab.json', text(generated.vocabJson)],
    ],
    vocabSize: generated.vocabSize,
    bosTokenId: bos,
    eosTokenId: eos,
  };
}
