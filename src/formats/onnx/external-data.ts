/**
 * ONNX external data: initializers whose bytes live in a side file (`model.onnx_data`, as
 * optimum / torch.onnx write models over 2 GB). A tensor points into it with external_data
 * entries `location` (path relative to the model), `offset` and `length` (decimal strings) and
 * data_location = EXTERNAL.
 *
 * Reading goes through an async byte-range reader, so a multi-GB data file is never held whole
 * (browser File.slice, OPFS, HTTP ranges, fs handles). Nothing in the model is trusted: offsets
 * and lengths are parsed strictly and checked against the data file's size and the tensor's
 * dims, and locations may not escape the model's folder.
 *
 * Writing lays tensors out back to back with each offset aligned (default 4096 bytes, the page
 * size onnx.proto recommends so that runtimes can mmap; ONNX's Python helper and torch.onnx align
 * the same way), returning the data file as a list of chunks to write or stream in order.
 */
import { FormatError } from '../../util/errors.ts';
import { tensorByteLength, tensorRawBytes, isExternal } from './tensor.ts';
import { DataLocation, type GraphProto, type ModelProto, type StringStringEntry, type TensorProto } from './types.ts';

export interface ExternalDataRef {
  location: string;
  offset: number;
  length: number;
  checksum?: string;
}

/** One external data file: its size and a reader of byte ranges within it. */
export interface ExternalDataFile {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Opens the data file at `location` (relative to the model), e.g. `model.onnx_data`. */
export type OpenExternalData = (location: string) => ExternalDataFile | Promise<ExternalDataFile>;

function describe(tensor: TensorProto): string {
  return tensor.name ? `initializer "${tensor.name}"` : 'tensor';
}

function parseOffset(value: string, file: string, field: string): number {
  if (!/^[0-9]{1,16}$/.test(value)) throw new FormatError(file, field, `"${value}" is not a decimal byte count`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new FormatError(file, field, `${value} exceeds 2^53`);
  return n;
}

/** A relative path inside the model's folder: no absolute paths, no `..`, no empty parts. */
function checkLocation(location: string, file: string, field: string): string {
  const parts = location.split('/');
  if (location === '' || location.includes('\\') || location.includes('\0') || /^[a-zA-Z]:/.test(location) || parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new FormatError(file, field, `location "${location}" is not a plain relative path inside the model's folder`);
  return location;
}

/**
 * Where an external tensor's bytes are, parsed and checked against its dims (length, when
 * given, must equal the tensor's byte size; when absent it is that size). Undefined for tensors
 * stored inline.
 */
export function externalDataRef(tensor: TensorProto, file: string): ExternalDataRef | undefined {
  if (!isExternal(tensor)) return undefined;
  const at = `${describe(tensor)}.external_data`;
  const entries = new Map<string, string>();
  for (const { key, value } of tensor.externalData ?? []) {
    if (entries.has(key)) throw new FormatError(file, at, `duplicate key "${key}"`);
    entries.set(key, value);
  }
  const location = entries.get('location');
  if (location === undefined) throw new FormatError(file, at, 'no "location" entry');
  checkLocation(location, file, at);
  const expected = tensorByteLength(tensor, file);
  const offset = entries.has('offset') ? parseOffset(entries.get('offset')!, file, `${at}.offset`) : 0;
  const length = entries.has('length') ? parseOffset(entries.get('length')!, file, `${at}.length`) : expected;
  if (length !== expected)
    throw new FormatError(file, `${at}.length`, `${length} bytes, but dims [${(tensor.dims ?? []).join(', ')}] need ${expected}`);
  const ref: ExternalDataRef = { location, offset, length };
  const checksum = entries.get('checksum');
  if (checksum !== undefined) ref.checksum = checksum;
  return ref;
}

/**
 * The raw bytes of an initializer, wherever they are: inline (raw_data or typed fields) or in
 * an external file opened with `open`. `file` is the model's name for errors.
 */
export async function readTensorData(tensor: TensorProto, file: string, open: OpenExternalData): Promise<Uint8Array> {
  const ref = externalDataRef(tensor, file);
  if (ref === undefined) return tensorRawBytes(tensor, file);
  return readRef(tensor, ref, await open(ref.location), file);
}

async function readRef(tensor: TensorProto, ref: ExternalDataRef, data: ExternalDataFile, file: string): Promise<Uint8Array> {
  const at = `${describe(tensor)}.external_data`;
  if (!Number.isSafeInteger(data.size) || data.size < 0) throw new FormatError(ref.location, 'size', `unknown size ${data.size}`);
  if (ref.offset > data.size || ref.length > data.size - ref.offset)
    throw new FormatError(
      file,
      at,
      `bytes ${ref.offset}..${ref.offset + ref.length} lie beyond the end of ${ref.location} (${data.size} bytes)`,
    );
  const bytes = await data.read(ref.offset, ref.length);
  if (bytes.byteLength !== ref.length)
    throw new FormatError(ref.location, `bytes ${ref.offset}..${ref.offset + ref.length}`, `read returned ${bytes.byteLength} bytes`);
  return bytes;
}

/**
 * A copy of the model with every external initializer of the main graph loaded into raw_data
 * (what ORT's InferenceSession.create(bytes) needs when no data file can be given). Data files
 * are opened once per location. Only sensible for models below the 2 GB protobuf limit.
 */
export async function inlineExternalData(model: ModelProto, file: string, open: OpenExternalData): Promise<ModelProto> {
  const opened = new Map<string, Promise<ExternalDataFile>>();
  const initializer: TensorProto[] = [];
  for (const tensor of model.graph.initializer) {
    const ref = externalDataRef(tensor, file);
    if (ref === undefined) {
      initializer.push(tensor);
      continue;
    }
    let data = opened.get(ref.location);
    if (data === undefined) {
      data = Promise.resolve(open(ref.location));
      opened.set(ref.location, data);
    }
    const rawData = await readRef(tensor, ref, await data, file);
    const { externalData: _e, dataLocation: _d, floatData: _f, ...rest } = tensor;
    initializer.push({ ...rest, rawData });
  }
  return { ...model, graph: { ...model.graph, initializer } };
}

export interface ExternalizeOptions {
  /** Data file name written into each tensor's `location`, e.g. `model.onnx_data` or `unet/down.onnx.data`'s basename. */
  location: string;
  /** Initializers with at least this many bytes move out (default 1024, as ONNX's Python helper). */
  threshold?: number;
  /** Each tensor's offset is a multiple of this (default 4096). */
  alignment?: number;
}

export interface ExternalizedModel {
  /** The model, its large initializers now pointing into the data file. */
  model: ModelProto;
  /** The data file's content: write the chunks in order (padding chunks included). */
  chunks: Uint8Array[];
  /** Total bytes of the data file (sum of chunk lengths). */
  dataSize: number;
}

/**
 * Moves main-graph initializers of `threshold` bytes or more into an external data file.
 * Tensors already external are left as they are (they keep pointing at their own file).
 */
export function externalizeModel(model: ModelProto, options: ExternalizeOptions): ExternalizedModel {
  const threshold = options.threshold ?? 1024;
  const alignment = options.alignment ?? 4096;
  const location = checkLocation(options.location, options.location, 'location');
  if (!Number.isSafeInteger(alignment) || alignment < 1) throw new FormatError(location, 'alignment', `${alignment} is not a positive integer`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const initializer = model.graph.initializer.map((tensor) => {
    if (isExternal(tensor)) return tensor;
    const bytes = tensorRawBytes(tensor, location);
    if (bytes.byteLength < threshold) return tensor;
    const padding = (alignment - (size % alignment)) % alignment;
    if (padding > 0) chunks.push(new Uint8Array(padding));
    const offset = size + padding;
    chunks.push(bytes);
    size = offset + bytes.byteLength;
    const { rawData: _r, floatData: _f, int32Data: _i, int64Data: _l, doubleData: _d, uint64Data: _u, ...rest } = tensor;
    const externalData: StringStringEntry[] = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(bytes.byteLength) },
    ];
    return { ...rest, externalData, dataLocation: DataLocation.EXTERNAL };
  });
  const graph: GraphProto = { ...model.graph, initializer };
  return { model: { ...model, graph }, chunks, dataSize: size };
}

/** An ExternalDataFile over bytes already in memory (tests, small models, fetched files). */
export function externalDataFromBytes(bytes: Uint8Array): ExternalDataFile {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}
