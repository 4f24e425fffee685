/**
 * The pack converter: a diffusers/optimum ONNX export of SD 1.x / 2.x (fp32 or fp16) -> a Lethe
 * pack (ARCHITECTURE.md, "Model packs"):
 *
 *   unet/<piece>.onnx + unet/<piece>.onnx.data   the UNet split at block boundaries, every
 *                                                attn2 to_k/to_v MatMul replaced by inputs k_<i>/v_<i>
 *   unet/cross_attention.safetensors             those weights, diffusers names, torch layout [out, in]
 *   text_encoder/, vae_decoder/                  copied (re-externalized only when large)
 *   tokenizer/, scheduler/                       copied
 *   manifest.json                                written last: family, dims, pieces and their I/O,
 *                                                cross-attention table, sha256 + size of every file
 *
 * Layer i is the i-th attn2 in UNet module order (down_blocks.0.attentions.0 ... mid_block ...
 * up_blocks.3.attentions.2), the same for SD 1.5 and 2.1. Everything is checked before the first
 * file is written, so a refused export leaves the sink empty. The UNet's weights are never held:
 * each piece's data file streams tensor by tensor from ranged reads of unet/model.onnx_data.
 * Runs in the browser and in Node (node-files.ts has the Node source and sink).
 */
import { decodeModel, encodeModel } from '../../formats/onnx/codec.ts';
import { externalDataRef, externalizeModel, type ExternalDataFile, type OpenExternalData } from '../../formats/onnx/external-data.ts';
import { replaceTensorsWithInputs, type TensorReplacement } from '../../formats/onnx/graph-edit.ts';
import { consumers, findNode } from '../../formats/onnx/graph.ts';
import { TensorDataType, type GraphProto, type ModelProto, type ValueInfoProto } from '../../formats/onnx/types.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../formats/safetensors/index.ts';
import { FormatError, InputError } from '../../util/errors.ts';
import {
  MANIFEST_FILE,
  PACK_FORMAT,
  PACK_VERSION,
  serializeManifest,
  validateManifest,
  type CrossAttentionLayer,
  type OnnxModelEntry,
  type PackDims,
  type PackDtype,
  type PackManifest,
  type TensorDtype,
  type TensorSpec,
  type TokenizerFiles,
  type UnetPiece,
} from '../manifest.ts';
import { findCrossAttention, headsOf, projectionWeightBytes, type FoundLayer } from './cross-attention.ts';
import { DEFAULT_SAMPLE_SIZE, detectFamily } from './family.ts';
import { readRequired, type PackSink } from './files.ts';
import type { ExportSource } from '../sources/export-source.ts';
import { HashingSink } from './hashing-sink.ts';
import { planPieceData } from './piece-data.ts';
import { PIECE_PLANS, splitUnet, type PiecePlan } from './pieces.ts';
import { renderDim, ShapeInference } from './shapes.ts';

export const CONVERTER_VERSION = '1';
export const TEXT_TOKENS = 77;
export const CROSS_ATTENTION_FILE = 'unet/cross_attention.safetensors';
const UNET_FILE = 'unet/model.onnx';
const TEXT_ENCODER_FILE = 'text_encoder/model.onnx';
const VAE_DECODER_FILE = 'vae_decoder/model.onnx';
const SCHEDULER_FILE = 'scheduler/scheduler_config.json';
const EMBEDDING_INPUT = 'encoder_hidden_states';
/** SD 1.x/2.x VAE scaling factor, used when vae_decoder/config.json does not give one. */
const SD_LATENT_SCALING = 0.18215;
const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

export interface ConvertProgress {
  stage: 'analyze' | 'write';
  /** The file being written (write stage). */
  file?: string;
  filesDone: number;
  filesTotal: number;
}

export interface ConvertOptions {
  /** `default`: pieces down, mid, up. `blocks`: one piece per UNet block (training checkpoints). */
  plan?: PiecePlan;
  onProgress?: (progress: ConvertProgress) => void;
  signal?: AbortSignal;
  /** A text encoder / VAE stored inline and at least this large gets an external data file (default 256 MiB). */
  externalizeAbove?: number;
}

interface Analysis {
  unet: ModelProto;
  layers: FoundLayer[];
  heads: number[];
  family: PackManifest['family'];
  dtype: PackDtype;
  dims: PackDims;
  edited: GraphProto;
  embeddingReaders: string[];
  textEncoder: { bytes: Uint8Array; model: ModelProto };
  vaeDecoder: { bytes: Uint8Array; model: ModelProto };
  tokenizerFiles: string[];
}

/** Builds a pack from an export; returns the manifest it wrote (last) to `sink`. */
export async function convertExport(source: ExportSource, sink: PackSink, options: ConvertOptions = {}): Promise<PackManifest> {
  const plan = options.plan ?? 'default';
  if (!PIECE_PLANS.includes(plan)) throw new InputError(`convertExport: plan must be one of ${PIECE_PLANS.join(', ')}, got "${String(plan)}"`);
  const report = options.onProgress ?? (() => undefined);
  report({ stage: 'analyze', filesDone: 0, filesTotal: 0 });
  const openUnetData = externalOpener(source, 'unet');
  const a = await analyze(source);
  await checkExternalData(a.unet, UNET_FILE, openUnetData);
  const pieces = splitUnet(a.edited, plan, UNET_FILE);
  const shapes = new ShapeInference(a.edited, UNET_FILE);
  options.signal?.throwIfAborted();

  const out = new HashingSink(sink);
  const filesTotal = a.tokenizerFiles.length + 1 + 2 + 1 + pieces.length * 2 + 1;
  let filesDone = 0;
  const write = async (path: string, content: Parameters<PackSink['write']>[1]): Promise<void> => {
    options.signal?.throwIfAborted();
    report({ stage: 'write', file: path, filesDone, filesTotal });
    await out.write(path, content);
    filesDone++;
  };

  const tokenizer: TokenizerFiles = {};
  const tokenizerKeys: Record<string, keyof TokenizerFiles> = {
    'tokenizer.json': 'tokenizerJson',
    'vocab.json': 'vocab',
    'merges.txt': 'merges',
    'tokenizer_config.json': 'config',
    'special_tokens_map.json': 'specialTokens',
  };
  for (const name of a.tokenizerFiles) {
    const path = `tokenizer/${name}`;
    await write(path, await source.read(path));
    tokenizer[tokenizerKeys[name]] = path;
  }
  await write(SCHEDULER_FILE, await source.read(SCHEDULER_FILE));

  const externalizeAbove = options.externalizeAbove ?? 256 * 1024 * 1024;
  const textEncoder = await copyModel(source, write, TEXT_ENCODER_FILE, a.textEncoder, externalizeAbove);
  const vaeDecoder = await copyModel(source, write, VAE_DECODER_FILE, a.vaeDecoder, externalizeAbove);

  const weights: [string, SafetensorsWriteTensor][] = [];
  for (const layer of a.layers)
    for (const [which, projection] of [['to_k', layer.toK], ['to_v', layer.toV]] as const) {
      const bytes = await projectionWeightBytes(projection, UNET_FILE, openUnetData);
      const data = a.dtype === 'fp32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      weights.push([`${layer.module}.${which}.weight`, { dtype: a.dtype === 'fp32' ? 'F32' : 'F16', shape: projection.shape, data }]);
    }
  await write(CROSS_ATTENTION_FILE, writeSafetensors(weights, { format: 'lethe-cross-attention', family: a.family, layout: 'torch [out, in]' }));

  const pieceEntries: UnetPiece[] = [];
  for (const piece of pieces) {
    const graph = orderInputs(piece.graph, a.unet.graph);
    const file = `unet/${piece.name}.onnx`;
    const dataFile = `${file}.data`;
    const data = planPieceData({ ...a.unet, graph }, { location: `${piece.name}.onnx.data`, open: openUnetData, file: UNET_FILE });
    const externalData: string[] = [];
    if (data.dataSize > 0) {
      await write(dataFile, data.chunks());
      externalData.push(dataFile);
    } else filesDone++;
    await write(file, encodeModel(data.model, file));
    pieceEntries.push({
      name: piece.name,
      file,
      externalData,
      inputs: graph.input.map((v) => tensorSpec(v, shapes, file)),
      outputs: graph.output.map((v) => tensorSpec(v, shapes, file)),
    });
  }

  const crossAttention: CrossAttentionLayer[] = a.layers.map((layer, index) => {
    const kInput = `k_${index}`;
    const piece = pieceEntries.find((p) => p.inputs.some((t) => t.name === kInput));
    if (!piece) throw new FormatError(UNET_FILE, kInput, 'no piece takes this input');
    return {
      index,
      module: layer.module,
      toK: { name: `${layer.module}.to_k.weight`, shape: layer.toK.shape },
      toV: { name: `${layer.module}.to_v.weight`, shape: layer.toV.shape },
      heads: a.heads[index],
      piece: piece.name,
      kInput,
      vInput: `v_${index}`,
    };
  });

  const meta: Record<string, string> = {
    converter: `lethe-converter ${CONVERTER_VERSION}`,
    plan,
    sourceProducer: `${a.unet.producerName ?? 'unknown'} ${a.unet.producerVersion ?? ''}`.trim(),
    encoderHiddenStates: a.embeddingReaders.length === 0 ? 'unused (replaced by k_<i>/v_<i>)' : `still read by ${a.embeddingReaders.join(', ')}`,
  };
  const manifest = validateManifest(
    {
      format: PACK_FORMAT,
      version: PACK_VERSION,
      family: a.family,
      dtype: a.dtype,
      dims: a.dims,
      textEncoder,
      pieces: pieceEntries,
      vaeDecoder,
      tokenizer,
      scheduler: { config: SCHEDULER_FILE },
      crossAttentionWeights: CROSS_ATTENTION_FILE,
      crossAttention,
      files: out.files,
      meta,
    } satisfies PackManifest,
    MANIFEST_FILE,
  );
  options.signal?.throwIfAborted();
  report({ stage: 'write', file: MANIFEST_FILE, filesDone, filesTotal });
  await sink.write(MANIFEST_FILE, new TextEncoder().encode(serializeManifest(manifest)));
  report({ stage: 'write', filesDone: filesTotal, filesTotal });
  return manifest;
}

/** Everything the pack needs to know, checked before anything is written. */
async function analyze(source: ExportSource): Promise<Analysis> {
  const unet = decodeModel(await readRequired(source, UNET_FILE, 'the UNet'), UNET_FILE);
  const embedding = unet.graph.input.find((i) => i.name === EMBEDDING_INPUT);
  if (!embedding) throw new FormatError(UNET_FILE, 'graph.input', `no input named "${EMBEDDING_INPUT}" (the text embedding)`);
  const layers = findCrossAttention(unet.graph, UNET_FILE, EMBEDDING_INPUT);

  const textHidden = layers[0].toK.shape[1];
  const dtypeOf = layers[0].toK.weight.dataType;
  for (const layer of layers)
    for (const [which, p] of [['to_k', layer.toK], ['to_v', layer.toV]] as const) {
      if (p.shape[1] !== textHidden)
        throw new FormatError(UNET_FILE, `${layer.nodePrefix}/${which}/MatMul`, `weight input width ${p.shape[1]}, but the first projection has ${textHidden}`);
      if (p.weight.dataType !== dtypeOf)
        throw new FormatError(UNET_FILE, `${layer.nodePrefix}/${which}/MatMul`, 'projection weights mix float32 and float16');
    }
  if (layers.some((l) => l.toK.shape[0] !== l.toV.shape[0]))
    throw new FormatError(UNET_FILE, 'graph.node', 'a layer has to_k and to_v of different widths');
  const dtype: PackDtype = dtypeOf === TensorDataType.FLOAT ? 'fp32' : 'fp16';

  const textBytes = await readRequired(source, TEXT_ENCODER_FILE, 'the text encoder');
  const textModel = decodeModel(textBytes, TEXT_ENCODER_FILE);
  const hiddenOut = textModel.graph.output.find((o) => o.name === 'last_hidden_state') ?? textModel.graph.output[0];
  const hiddenDims = hiddenOut?.type?.tensorType?.shape?.dim ?? [];
  const declaredWidth = hiddenDims[hiddenDims.length - 1]?.dimValue;
  if (declaredWidth !== undefined && declaredWidth !== textHidden)
    throw new FormatError(TEXT_ENCODER_FILE, `output ${hiddenOut.name}`, `width ${declaredWidth}, but the UNet's to_k/to_v read ${textHidden}-wide embeddings`);
  const family = detectFamily(textHidden, unet.graph, layers.length, UNET_FILE);

  const vaeBytes = await readRequired(source, VAE_DECODER_FILE, 'the VAE decoder');
  const vaeModel = decodeModel(vaeBytes, VAE_DECODER_FILE);
  await readRequired(source, SCHEDULER_FILE, 'the scheduler');
  const tokenizerFiles = await findTokenizerFiles(source);

  const unetConfig = await optionalJson(source, 'unet/config.json');
  const vaeConfig = await optionalJson(source, 'vae_decoder/config.json');
  const shapesBefore = new ShapeInference(unet.graph, UNET_FILE);
  const heads = layers.map((layer) => headsOf(layer, unet.graph, shapesBefore, UNET_FILE, configHeads(unetConfig, layer.block)));

  // Replace every projection by an input [batch, 77, inner] of the weight's type.
  const batchDim = embedding.type?.tensorType?.shape?.dim?.[0]?.dimParam ?? 'batch_size';
  const replacements: TensorReplacement[] = layers.flatMap((layer, i) =>
    ([[`k_${i}`, layer.toK], [`v_${i}`, layer.toV]] as const).map(([name, p]) => ({
      tensor: p.output,
      input: {
        name,
        type: { tensorType: { elemType: p.weight.dataType, shape: { dim: [{ dimParam: batchDim }, { dimValue: TEXT_TOKENS }, { dimValue: p.shape[0] }] } } },
      },
    })),
  );
  let edited = replaceTensorsWithInputs(unet.graph, replacements, UNET_FILE);
  const embeddingReaders = (consumers(edited).get(EMBEDDING_INPUT) ?? []).map((n) => n.name ?? n.opType);
  if (embeddingReaders.length === 0) edited = { ...edited, input: edited.input.filter((i) => i.name !== EMBEDDING_INPUT) };

  const dims: PackDims = {
    textHidden,
    textTokens: TEXT_TOKENS,
    latentChannels: latentChannels(unet.graph, unetConfig),
    unetChannels: unetChannels(unet.graph, unetConfig),
    vaeScale: vaeScale(vaeModel.graph, vaeConfig),
    latentScalingFactor: numberField(vaeConfig, 'scaling_factor') ?? SD_LATENT_SCALING,
    sampleSize: numberField(unetConfig, 'sample_size') ?? DEFAULT_SAMPLE_SIZE[family],
  };
  return {
    unet,
    layers,
    heads,
    family,
    dtype,
    dims,
    edited,
    embeddingReaders,
    textEncoder: { bytes: textBytes, model: textModel },
    vaeDecoder: { bytes: vaeBytes, model: vaeModel },
    tokenizerFiles,
  };
}

/** Every external tensor's file exists and holds its byte range (checked up front, so that a broken export writes nothing). */
async function checkExternalData(model: ModelProto, file: string, open: OpenExternalData): Promise<void> {
  for (const tensor of model.graph.initializer) {
    const ref = externalDataRef(tensor, file);
    if (ref === undefined) continue;
    const data = await open(ref.location);
    if (ref.offset + ref.length > data.size)
      throw new FormatError(file, `initializer "${tensor.name}"`, `bytes ${ref.offset}..${ref.offset + ref.length} lie beyond the end of ${ref.location} (${data.size} bytes)`);
  }
}

async function findTokenizerFiles(source: ExportSource): Promise<string[]> {
  const known = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];
  const present: string[] = [];
  for (const name of known) if ((await source.size(`tokenizer/${name}`)) !== undefined) present.push(name);
  if (!present.includes('tokenizer.json') && !(present.includes('vocab.json') && present.includes('merges.txt')))
    throw new FormatError('tokenizer/', '(files)', 'missing from the export: needs tokenizer/tokenizer.json, or tokenizer/vocab.json and tokenizer/merges.txt');
  return present;
}

type Json = Record<string, unknown>;

async function optionalJson(source: ExportSource, path: string): Promise<Json | undefined> {
  if ((await source.size(path)) === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(await source.read(path)));
  } catch (error) {
    throw new FormatError(path, '(json)', `not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormatError(path, '(root)', 'expected a JSON object');
  return value as Json;
}

function numberField(config: Json | undefined, key: string): number | undefined {
  const value = config?.[key];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/**
 * attention_head_dim of unet/config.json, which diffusers' SD configs use for the number of
 * heads (8 for SD 1.x; [5, 10, 20, 20] per down block for SD 2.x; mid: the last; up: reversed).
 */
function configHeads(config: Json | undefined, block: string): number | undefined {
  const value = config?.attention_head_dim;
  if (typeof value === 'number') return value;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) return undefined;
  const list = value as number[];
  if (block === 'mid_block') return list[list.length - 1];
  const [kind, index] = block.split('.');
  const i = Number(index);
  return kind === 'down_blocks' ? list[i] : list[list.length - 1 - i];
}

function initializerDims(graph: GraphProto, nodeName: string, input: number): number[] | undefined {
  const node = findNode(graph, nodeName);
  const name = node?.input[input];
  return name === undefined ? undefined : graph.initializer.find((t) => t.name === name)?.dims;
}

function latentChannels(graph: GraphProto, config: Json | undefined): number {
  const fromGraph = initializerDims(graph, '/conv_in/Conv', 1)?.[1];
  const value = fromGraph ?? numberField(config, 'in_channels');
  if (value === undefined) throw new FormatError(UNET_FILE, 'graph.node', 'cannot tell the latent channels: no /conv_in/Conv node with a weight, and no in_channels in unet/config.json');
  return value;
}

function unetChannels(graph: GraphProto, config: Json | undefined): number[] {
  const channels: number[] = [];
  for (let b = 0; ; b++) {
    const out = initializerDims(graph, `/down_blocks.${b}/resnets.0/conv1/Conv`, 1)?.[0];
    if (out === undefined) break;
    channels.push(out);
  }
  if (channels.length > 0) return channels;
  const fromConfig = config?.block_out_channels;
  if (Array.isArray(fromConfig) && fromConfig.length > 0 && fromConfig.every((c) => Number.isInteger(c))) return fromConfig as number[];
  throw new FormatError(UNET_FILE, 'graph.node', 'cannot tell the block channels: no /down_blocks.N/resnets.0/conv1/Conv nodes, and no block_out_channels in unet/config.json');
}

function vaeScale(graph: GraphProto, config: Json | undefined): number {
  const upsamplers = new Set<string>();
  for (const node of graph.node) {
    const m = node.name ? /^\/decoder\/up_blocks\.(\d+)\/upsamplers\.0\//.exec(node.name) : null;
    if (m) upsamplers.add(m[1]);
  }
  if (upsamplers.size > 0) return 2 ** upsamplers.size;
  const blocks = config?.block_out_channels;
  if (Array.isArray(blocks) && blocks.length > 0) return 2 ** (blocks.length - 1);
  throw new FormatError(VAE_DECODER_FILE, 'graph.node', 'cannot tell the VAE scale: no /decoder/up_blocks.N/upsamplers.0/... nodes, and no block_out_channels in vae_decoder/config.json');
}

/** Opens `<dir>/<location>` of the export for ranged reads (the whole file once if the source has no readRange). */
function externalOpener(source: ExportSource, dir: string): OpenExternalData {
  const opened = new Map<string, Promise<ExternalDataFile>>();
  return (location) => {
    let file = opened.get(location);
    if (file === undefined) {
      file = (async () => {
        const path = `${dir}/${location}`;
        const size = await source.size(path);
        if (size === undefined) throw new FormatError(path, '(file)', `missing from the export (external data of ${dir}/model.onnx)`);
        if (source.readRange) {
          const readRange = source.readRange.bind(source);
          return { size, read: (offset, length) => readRange(path, offset, length) };
        }
        const whole = await source.read(path);
        return { size, read: async (offset, length) => whole.subarray(offset, offset + length) };
      })();
      opened.set(location, file);
    }
    return file;
  };
}

/** Copies a component model; its external data files are streamed along, or made when it is inline and large. */
async function copyModel(
  source: ExportSource,
  write: (path: string, content: Parameters<PackSink['write']>[1]) => Promise<void>,
  path: string,
  { bytes, model }: { bytes: Uint8Array; model: ModelProto },
  externalizeAbove: number,
): Promise<OnnxModelEntry> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  const locations = new Set<string>();
  for (const t of model.graph.initializer) {
    const ref = externalDataRef(t, path);
    if (ref) locations.add(ref.location);
  }
  const externalData: string[] = [];
  if (locations.size === 0 && bytes.byteLength >= externalizeAbove) {
    const dataPath = `${dir}/model.onnx_data`;
    const externalized = externalizeModel(model, { location: 'model.onnx_data' });
    await write(dataPath, externalized.chunks);
    await write(path, encodeModel(externalized.model, path));
    externalData.push(dataPath);
  } else {
    await write(path, bytes);
    const open = externalOpener(source, dir);
    for (const location of [...locations].sort()) {
      const dataPath = `${dir}/${location}`;
      const data = await open(location);
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for (let offset = 0; offset < data.size; offset += COPY_CHUNK_BYTES) yield data.read(offset, Math.min(COPY_CHUNK_BYTES, data.size - offset));
      }
      await write(dataPath, chunks());
      externalData.push(dataPath);
    }
  }
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  return {
    file: path,
    externalData,
    inputs: model.graph.input.filter((i) => !initializers.has(i.name)).map((v) => tensorSpec(v, undefined, path)),
    outputs: model.graph.output.map((v) => tensorSpec(v, undefined, path)),
  };
}

/** Piece inputs: the export's own inputs (sample, timestep) first, then tensors from earlier pieces, then k_<i>, v_<i> by index. */
function orderInputs(piece: GraphProto, original: GraphProto): GraphProto {
  const originalNames = original.input.map((i) => i.name);
  const rank = (v: ValueInfoProto): number[] => {
    const own = originalNames.indexOf(v.name);
    if (own >= 0) return [0, own, 0];
    const kv = /^([kv])_(\d+)$/.exec(v.name);
    if (kv) return [2, Number(kv[2]), kv[1] === 'k' ? 0 : 1];
    return [1, piece.input.indexOf(v), 0];
  };
  const input = [...piece.input].sort((x, y) => {
    const [a, b] = [rank(x), rank(y)];
    return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  });
  return { ...piece, input };
}

const DTYPES: Partial<Record<number, TensorDtype>> = {
  [TensorDataType.FLOAT]: 'float32',
  [TensorDataType.FLOAT16]: 'float16',
  [TensorDataType.INT32]: 'int32',
  [TensorDataType.INT64]: 'int64',
};

/** A graph input/output as the manifest describes it: declared shape, else the inferred one. */
function tensorSpec(info: ValueInfoProto, shapes: ShapeInference | undefined, file: string): TensorSpec {
  const elemType = info.type?.tensorType?.elemType;
  const dtype = elemType === undefined ? undefined : DTYPES[elemType];
  if (dtype === undefined) throw new FormatError(file, info.name, `element type ${String(elemType)} is not one a pack can carry (float32, float16, int32, int64)`);
  const declared = info.type?.tensorType?.shape?.dim;
  const safe = info.name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^_+/, '');
  const fallback = (axis: number): string => `${/^[A-Za-z]/.test(safe) ? safe : `t_${safe}`}_dim${axis}`;
  let shape: (number | string)[];
  if (declared) shape = declared.map((d, axis) => d.dimValue ?? d.dimParam ?? fallback(axis));
  else {
    const inferred = shapes?.shape(info.name);
    if (inferred === undefined) throw new FormatError(file, info.name, 'cannot infer the rank of this piece input/output');
    shape = inferred.map((d, axis) => renderDim(d) ?? fallback(axis));
  }
  return { name: info.name, shape, dtype };
}
