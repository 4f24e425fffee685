import { FormatError } from '../util/errors.ts';
import { JsonFields, checkInteger, checkString } from '../util/json-fields.ts';
import { describeValue as describe } from '../util/describe-value.ts';
import { packPathProblem } from './pack-path.ts';

/**
 * manifest.json of a model pack: what the pack holds (family, dims, UNet pieces and their I/O,
 * cross-attention layers) and the sha256 + byte size of every file, so that the loader can verify
 * and cache files by content. See ARCHITECTURE.md, "Model packs".
 */

export const PACK_FORMAT = 'lethe-pack';
export const PACK_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
/** A manifest larger than this is not a manifest (real ones are tens of kB). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export const PACK_FAMILIES = ['sd15', 'sd21', 'tiny-sd15', 'tiny-sd21'] as const;
export type PackFamily = (typeof PACK_FAMILIES)[number];

export const PACK_DTYPES = ['fp32', 'fp16'] as const;
export type PackDtype = (typeof PACK_DTYPES)[number];

/** Element types of graph inputs/outputs, named as onnxruntime names them. */
export const TENSOR_DTYPES = ['float32', 'float16', 'int32', 'int64'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

/** A fixed size, or a symbolic one (e.g. "batch") that the runner binds at run time. */
export type TensorDim = number | string;

export interface TensorSpec {
  name: string;
  shape: TensorDim[];
  dtype: TensorDtype;
}

/** One ONNX graph of the pack. `externalData` lists its .onnx.data files (may be empty). */
export interface OnnxModelEntry {
  file: string;
  externalData: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** One segment of the UNet (down / mid / up blocks); pieces run in list order. */
export interface UnetPiece extends OnnxModelEntry {
  name: string;
}

export interface PackDims {
  /** Width of the text embedding (768 for SD 1.x, 1024 for SD 2.x). */
  textHidden: number;
  /** Tokens per prompt (CLIP: 77). */
  textTokens: number;
  latentChannels: number;
  /** UNet block_out_channels, e.g. [320, 640, 1280, 1280]. */
  unetChannels: number[];
  /** Pixels per latent cell along each side (the VAE downsamples by 8 in SD). */
  vaeScale: number;
  /** Latents are multiplied by this after encoding and divided before decoding (SD: 0.18215). */
  latentScalingFactor: number;
  /** Default latent side length (64 for 512 px, 96 for 768 px). */
  sampleSize: number;
}

/** Tokenizer files: tokenizer.json, or vocab.json + merges.txt as diffusers ships them. */
export interface TokenizerFiles {
  tokenizerJson?: string;
  vocab?: string;
  merges?: string;
  /** tokenizer_config.json */
  config?: string;
  /** special_tokens_map.json */
  specialTokens?: string;
}

export interface SchedulerFiles {
  config: string;
}

/** A to_k / to_v weight in unet/cross_attention.safetensors, shape [out, in] as torch stores it. */
export interface ProjectionWeight {
  name: string;
  shape: [number, number];
}

export interface CrossAttentionLayer {
  /** Position in `crossAttention`; the piece inputs are k_<index> and v_<index>. */
  index: number;
  /** diffusers module path, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2 */
  module: string;
  toK: ProjectionWeight;
  toV: ProjectionWeight;
  heads: number;
  /** Name of the UNet piece whose graph takes this layer's K and V. */
  piece: string;
  kInput: string;
  vInput: string;
}

export interface PackFileEntry {
  /** 64 lowercase hex characters. */
  sha256: string;
  bytes: number;
}

export interface PackManifest {
  format: typeof PACK_FORMAT;
  version: typeof PACK_VERSION;
  family: PackFamily;
  dtype: PackDtype;
  dims: PackDims;
  textEncoder: OnnxModelEntry;
  pieces: UnetPiece[];
  vaeDecoder: OnnxModelEntry;
  tokenizer: TokenizerFiles;
  scheduler: SchedulerFiles;
  /** unet/cross_attention.safetensors: every attn2 to_k/to_v weight under its diffusers name. */
  crossAttentionWeights: string;
  crossAttention: CrossAttentionLayer[];
  /** Every file of the pack except manifest.json itself. Null prototype: look up with Object.hasOwn. */
  files: Record<string, PackFileEntry>;
  /** Free-form provenance (base model repo, converter version, ...), strings only. */
  meta?: Record<string, string>;
}

const MAX_FILES = 4096;
const MAX_PIECES = 64;
const MAX_LAYERS = 1024;
const MAX_IO = 512;
const MAX_RANK = 8;
const MAX_DIM = 1 << 24;
const NAME = /^[A-Za-z0-9_.:/-]+$/;
const NAME_TEXT = '[A-Za-z0-9_.:/-]+';
const PIECE_NAME = /^[A-Za-z0-9_.-]+$/;
const SYMBOLIC_DIM = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MODULE = /^(down_blocks\.\d+|mid_block|up_blocks\.\d+)\.attentions\.\d+\.transformer_blocks\.\d+\.attn2$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/** Values a full-size family must have; the tiny families only need to be self-consistent. */
const FAMILY_DIMS: Partial<Record<PackFamily, { textHidden: number; layers: number }>> = {
  sd15: { textHidden: 768, layers: 16 },
  sd21: { textHidden: 1024, layers: 16 },
};

/**
 * Parses and validates manifest.json. Everything is checked: types, ranges, unknown fields, paths
 * (relative, no '..', no backslashes), hashes, and the references between fields (every file named
 * anywhere has an entry in `files`; every layer names an existing piece that has its k_/v_ inputs).
 * Any problem is a FormatError(file, field, detail).
 */
export function parseManifest(json: string, file: string): PackManifest {
  if (typeof json !== 'string') throw new FormatError(file, '(root)', `expected JSON text, got ${describe(json)}`);
  if (json.length > MAX_MANIFEST_BYTES)
    throw new FormatError(file, '(root)', `${json.length} characters is larger than a manifest can be (${MAX_MANIFEST_BYTES})`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new FormatError(file, '(json)', `not valid JSON: ${(error as Error).message}`);
  }
  return validateManifest(value, file);
}

/** Validates an already-parsed manifest value (e.g. one the converter just built). */
export function validateManifest(value: unknown, file: string): PackManifest {
  const root = JsonFields.of(file, '', value);
  const format = root.value('format');
  if (format !== PACK_FORMAT) root.fail('format', `expected "${PACK_FORMAT}", got ${describe(format)}`);
  const version = root.value('version');
  if (version !== PACK_VERSION)
    root.fail('version', `this build of Lethe reads version ${PACK_VERSION}, got ${describe(version)}`);

  const files = parseFiles(root.object('files'));
  const family = root.literal('family', PACK_FAMILIES);
  const dtype = root.literal('dtype', PACK_DTYPES);
  const dims = parseDims(root.object('dims'));
  const refs = new FileRefs(files);

  const textEncoder = parseModel(root.object('textEncoder'), refs);
  const vaeDecoder = parseModel(root.object('vaeDecoder'), refs);
  const pieces = root.array('pieces', 1, MAX_PIECES).map(({ value: element, field }) => {
    const piece = JsonFields.of(file, field, element);
    const name = piece.string('name', { maxLength: 128, pattern: PIECE_NAME, patternText: '[A-Za-z0-9_.-]+' });
    return { name, ...parseModel(piece, refs) };
  });
  const pieceNames = new Set<string>();
  pieces.forEach((piece, i) => {
    if (pieceNames.has(piece.name)) throw new FormatError(file, `pieces[${i}].name`, `"${piece.name}" appears twice`);
    pieceNames.add(piece.name);
  });

  const tokenizer = parseTokenizer(root.object('tokenizer'), refs);
  const schedulerFields = root.object('scheduler');
  const scheduler = { config: refs.path(schedulerFields, 'config') };
  schedulerFields.done();
  const crossAttentionWeights = refs.path(root, 'crossAttentionWeights');

  const crossAttention = root
    .array('crossAttention', 1, MAX_LAYERS)
    .map(({ value: element, field }, i) => parseLayer(JsonFields.of(file, field, element), i, dims));
  checkLayersAgainstPieces(file, crossAttention, pieces);

  const familyDims = FAMILY_DIMS[family];
  if (familyDims) {
    if (dims.textHidden !== familyDims.textHidden)
      throw new FormatError(file, 'dims.textHidden', `${family} has ${familyDims.textHidden}, got ${dims.textHidden}`);
    if (crossAttention.length !== familyDims.layers)
      throw new FormatError(file, 'crossAttention', `${family} has ${familyDims.layers} cross-attention layers, got ${crossAttention.length}`);
  }

  let meta: Record<string, string> | undefined;
  const metaFields = root.optionalObject('meta');
  if (metaFields) {
    meta = Object.create(null) as Record<string, string>;
    for (const key of metaFields.keys()) {
      if (key.length > 128) metaFields.fail(key, 'key longer than 128 characters');
      meta[key] = metaFields.string(key, { maxLength: 4096 });
    }
  }
  root.done();

  const manifest: PackManifest = {
    format: PACK_FORMAT,
    version: PACK_VERSION,
    family,
    dtype,
    dims,
    textEncoder,
    pieces,
    vaeDecoder,
    tokenizer,
    scheduler,
    crossAttentionWeights,
    crossAttention,
    files,
  };
  if (meta) manifest.meta = meta;
  return manifest;
}

/** manifest.json text with a fixed key order and 2-space indent (what the converter writes). */
export function serializeManifest(manifest: PackManifest): string {
  const files: Record<string, PackFileEntry> = {};
  for (const path of Object.keys(manifest.files).sort()) files[path] = { ...manifest.files[path] };
  return `${JSON.stringify({ ...manifest, files }, null, 2)}\n`;
}

function parseFiles(fields: JsonFields): Record<string, PackFileEntry> {
  const files = Object.create(null) as Record<string, PackFileEntry>;
  const keys = fields.keys();
  if (keys.length === 0) fields.failHere('expected at least one file');
  if (keys.length > MAX_FILES) fields.failHere(`more than ${MAX_FILES} files`);
  for (const path of keys) {
    const problem = packPathProblem(path);
    if (problem) fields.fail(path, `path ${problem}`);
    if (path === MANIFEST_FILE) fields.fail(path, 'manifest.json cannot list itself');
    const entry = fields.object(path);
    const sha256 = entry.string('sha256', { maxLength: 64, pattern: SHA256, patternText: '64 hex characters' }).toLowerCase();
    const bytes = entry.integer('bytes', 0, Number.MAX_SAFE_INTEGER);
    entry.done();
    files[path] = { sha256, bytes };
  }
  fields.done();
  return files;
}

/** Reads path fields and checks that each names an entry of `files`. */
class FileRefs {
  constructor(private readonly files: Record<string, PackFileEntry>) {}

  path(fields: JsonFields, key: string): string {
    const path = fields.string(key, { maxLength: 512 });
    return this.check(fields.file, fields.fieldName(key), path);
  }

  optionalPath(fields: JsonFields, key: string): string | undefined {
    if (fields.has(key)) return this.path(fields, key);
    fields.optionalString(key); // marks the absent field as read
    return undefined;
  }

  check(file: string, field: string, path: unknown): string {
    if (typeof path !== 'string') throw new FormatError(file, field, `expected a path string, got ${describe(path)}`);
    const problem = packPathProblem(path);
    if (problem) throw new FormatError(file, field, `path ${problem}`);
    if (!Object.hasOwn(this.files, path)) throw new FormatError(file, field, `"${path}" has no entry in files`);
    return path;
  }
}

function parseDims(fields: JsonFields): PackDims {
  const dims: PackDims = {
    textHidden: fields.integer('textHidden', 1, 65536),
    textTokens: fields.literal('textTokens', [77]),
    latentChannels: fields.integer('latentChannels', 1, 64),
    unetChannels: fields
      .array('unetChannels', 1, 16)
      .map(({ value, field }) => checkInteger(value, 1, 65536, (detail) => { throw new FormatError(fields.file, field, detail); })),
    vaeScale: fields.integer('vaeScale', 1, 64),
    latentScalingFactor: fields.positiveNumber('latentScalingFactor', 1000),
    sampleSize: fields.integer('sampleSize', 1, 4096),
  };
  fields.done();
  return dims;
}

function parseModel(fields: JsonFields, refs: FileRefs): OnnxModelEntry {
  const file = refs.path(fields, 'file');
  const externalData = fields
    .array('externalData', 0, 64)
    .map(({ value, field }) => refs.check(fields.file, field, value));
  const inputs = parseTensorList(fields, 'inputs');
  const outputs = parseTensorList(fields, 'outputs');
  fields.done();
  return { file, externalData, inputs, outputs };
}

function parseTensorList(fields: JsonFields, key: string): TensorSpec[] {
  const names = new Set<string>();
  return fields.array(key, 1, MAX_IO).map(({ value, field }) => {
    const tensor = JsonFields.of(fields.file, field, value);
    const name = tensor.string('name', { maxLength: 256, pattern: NAME, patternText: NAME_TEXT });
    if (names.has(name)) tensor.fail('name', `"${name}" appears twice in ${fields.fieldName(key)}`);
    names.add(name);
    const shape = tensor.array('shape', 0, MAX_RANK).map(({ value: dim, field: dimField }) => parseDim(fields.file, dimField, dim));
    const dtype = tensor.literal('dtype', TENSOR_DTYPES);
    tensor.done();
    return { name, shape, dtype };
  });
}

function parseDim(file: string, field: string, value: unknown): TensorDim {
  if (typeof value === 'string') {
    checkString(value, { maxLength: 64, pattern: SYMBOLIC_DIM, patternText: 'an identifier' }, (detail) => {
      throw new FormatError(file, field, detail);
    });
    return value;
  }
  return checkInteger(value, 1, MAX_DIM, (detail) => {
    throw new FormatError(file, field, `${detail} (or a symbolic name)`);
  });
}

function parseTokenizer(fields: JsonFields, refs: FileRefs): TokenizerFiles {
  const tokenizer: TokenizerFiles = {};
  const tokenizerJson = refs.optionalPath(fields, 'tokenizerJson');
  const vocab = refs.optionalPath(fields, 'vocab');
  const merges = refs.optionalPath(fields, 'merges');
  const config = refs.optionalPath(fields, 'config');
  const specialTokens = refs.optionalPath(fields, 'specialTokens');
  fields.done();
  if (tokenizerJson === undefined && (vocab === undefined || merges === undefined))
    fields.failHere('needs tokenizerJson, or both vocab and merges');
  if (tokenizerJson !== undefined) tokenizer.tokenizerJson = tokenizerJson;
  if (vocab !== undefined) tokenizer.vocab = vocab;
  if (merges !== undefined) tokenizer.merges = merges;
  if (config !== undefined) tokenizer.config = config;
  if (specialTokens !== undefined) tokenizer.specialTokens = specialTokens;
  return tokenizer;
}

function parseLayer(fields: JsonFields, position: number, dims: PackDims): CrossAttentionLayer {
  const index = fields.integer('index', 0, MAX_LAYERS);
  if (index !== position) fields.fail('index', `expected ${position} (layers are listed in index order), got ${index}`);
  const module = fields.string('module', { maxLength: 256, pattern: MODULE, patternText: 'a diffusers attn2 module path' });
  const heads = fields.integer('heads', 1, 4096);
  const toK = parseProjection(fields.object('toK'), `${module}.to_k.weight`, heads, dims);
  const toV = parseProjection(fields.object('toV'), `${module}.to_v.weight`, heads, dims);
  const piece = fields.string('piece', { maxLength: 128, pattern: PIECE_NAME, patternText: '[A-Za-z0-9_.-]+' });
  const kInput = fields.literal('kInput', [`k_${index}`]);
  const vInput = fields.literal('vInput', [`v_${index}`]);
  fields.done();
  return { index, module, toK, toV, heads, piece, kInput, vInput };
}

function parseProjection(fields: JsonFields, expectedName: string, heads: number, dims: PackDims): ProjectionWeight {
  const name = fields.literal('name', [expectedName]);
  const shapeElements = fields.array('shape', 2, 2);
  const [out, inner] = shapeElements.map(({ value, field }) =>
    checkInteger(value, 1, MAX_DIM, (detail) => {
      throw new FormatError(fields.file, field, detail);
    }),
  );
  if (inner !== dims.textHidden)
    throw new FormatError(fields.file, shapeElements[1].field, `input width must be dims.textHidden (${dims.textHidden}), got ${inner}`);
  if (out % heads !== 0)
    throw new FormatError(fields.file, shapeElements[0].field, `output width ${out} is not divisible by heads (${heads})`);
  fields.done();
  return { name, shape: [out, inner] };
}

function checkLayersAgainstPieces(file: string, layers: CrossAttentionLayer[], pieces: UnetPiece[]): void {
  const modules = new Set<string>();
  const claimed = new Set<string>();
  layers.forEach((layer, i) => {
    if (modules.has(layer.module)) throw new FormatError(file, `crossAttention[${i}].module`, `"${layer.module}" appears twice`);
    modules.add(layer.module);
    const piece = pieces.find((p) => p.name === layer.piece);
    if (!piece) throw new FormatError(file, `crossAttention[${i}].piece`, `no piece is named "${layer.piece}"`);
    for (const [key, inputName, out] of [
      ['kInput', layer.kInput, layer.toK.shape[0]],
      ['vInput', layer.vInput, layer.toV.shape[0]],
    ] as const) {
      const input = piece.inputs.find((t) => t.name === inputName);
      if (!input) throw new FormatError(file, `crossAttention[${i}].${key}`, `piece "${piece.name}" has no input "${inputName}"`);
      if (input.dtype !== 'float32' && input.dtype !== 'float16')
        throw new FormatError(file, `crossAttention[${i}].${key}`, `piece input "${inputName}" has dtype ${input.dtype}, expected a float type`);
      const last = input.shape[input.shape.length - 1];
      if (input.shape.length < 2 || (typeof last === 'number' && last !== out))
        throw new FormatError(
          file,
          `crossAttention[${i}].${key}`,
          `piece input "${inputName}" has shape [${input.shape.join(', ')}], expected [..., tokens, ${out}]`,
        );
      claimed.add(`${piece.name}\u0000${inputName}`);
    }
  });
  pieces.forEach((piece, p) =>
    piece.inputs.forEach((input, i) => {
      if (/^[kv]_\d+$/.test(input.name) && !claimed.has(`${piece.name}\u0000${input.name}`))
        throw new FormatError(file, `pieces[${p}].inputs[${i}].name`, `"${input.name}" is not the kInput/vInput of any crossAttention layer`);
    }),
  );
}
