/**
 * Matches the parameters a graph built from the configs needs against the tensors a checkpoint
 * holds. Nothing is filled in and nothing is dropped silently: a parameter the graph needs and
 * the file lacks, a tensor the file has and the model does not define, a shape other than the
 * config implies, or a non-float dtype is an error naming the tensor.
 */
import { FormatError } from '../../util/errors.ts';
import { fromHalf, toHalf } from '../../util/half.ts';
import type { WeightSpec } from '../builders/graph-builder.ts';
import type { ComponentCheckpoint, TensorLocation } from './checkpoint.ts';

export type PackDtype = 'fp16' | 'fp32';

export interface BindOptions {
  /** Parameters the model defines that Lethe does not run (the VAE encoder): checked, not read. */
  unused?: readonly WeightSpec[];
  /** Buffers that may be present (`text_model.embeddings.position_ids`), with their shapes: checked, not read. */
  buffers?: ReadonlyMap<string, readonly number[]>;
  /** Maps a tensor's name in the file to the name the graph uses (legacy attention names). */
  canonicalName?: (name: string) => string;
}

/** Parameter name -> where its tensor is. */
export type BoundWeights = ReadonlyMap<string, TensorLocation>;

export function bindWeights(checkpoint: ComponentCheckpoint, specs: readonly WeightSpec[], options: BindOptions = {}): BoundWeights {
  const canonical = options.canonicalName ?? ((name: string) => name);
  const found = new Map<string, TensorLocation>();
  for (const [name, location] of checkpoint.tensors) {
    const key = canonical(name);
    const other = found.get(key);
    if (other) throw new FormatError(location.file, name, `holds the same parameter as ${other.entry.name} (${key})`);
    found.set(key, location);
  }
  const problems: { file: string; name: string; detail: string }[] = [];
  const where = checkpoint.files.length === 1 ? checkpoint.files[0] : `${checkpoint.component}/ (${checkpoint.files.join(', ')})`;
  const bound = new Map<string, TensorLocation>();
  const claimed = new Set<string>();
  const check = (param: string, dims: readonly number[], use: boolean): void => {
    if (claimed.has(param)) return;
    claimed.add(param);
    const location = found.get(param);
    if (!location) {
      problems.push({ file: where, name: param, detail: `missing: the config implies this parameter, shape [${dims.join(', ')}]` });
      return;
    }
    const { entry, file } = location;
    if (entry.shape.length !== dims.length || entry.shape.some((d, i) => d !== dims[i]))
      problems.push({ file, name: entry.name, detail: `shape [${entry.shape.join(', ')}], but the config implies [${dims.join(', ')}]` });
    else if (entry.dtype !== 'F32' && entry.dtype !== 'F16' && entry.dtype !== 'BF16')
      problems.push({ file, name: entry.name, detail: `dtype ${entry.dtype}; weights must be F32, F16 or BF16` });
    else if (use) bound.set(param, location);
  };
  for (const spec of specs) check(spec.param, spec.torchDims, true);
  for (const spec of options.unused ?? []) check(spec.param, spec.torchDims, false);
  for (const [name, dims] of options.buffers ?? []) {
    const location = found.get(name);
    if (!location) continue;
    claimed.add(name);
    if (location.entry.shape.length !== dims.length || location.entry.shape.some((d, i) => d !== dims[i]))
      problems.push({ file: location.file, name, detail: `shape [${location.entry.shape.join(', ')}], expected [${dims.join(', ')}]` });
  }
  for (const [key, location] of found)
    if (!claimed.has(key)) problems.push({ file: location.file, name: location.entry.name, detail: 'unexpected: the config defines no such parameter' });
  if (problems.length > 0) {
    const [first, ...rest] = problems;
    const more = rest.length === 0 ? '' : ` (and ${rest.length} more: ${rest.slice(0, 8).map((p) => `${p.name}: ${p.detail}`).join('; ')}${rest.length > 8 ? '; ...' : ''})`;
    throw new FormatError(first.file, first.name, `${first.detail}${more}`);
  }
  return bound;
}

/** diffusers renamed the VAE attention's query/key/value/proj_attn to to_q/to_k/to_v/to_out.0 (older repos keep the old names). */
export function modernVaeAttentionName(name: string): string {
  const m = /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/.exec(name);
  if (!m) return name;
  const renamed = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' }[m[2] as 'query' | 'key' | 'value' | 'proj_attn'];
  return `${m[1]}.${renamed}.${m[3]}`;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A tensor's bytes (as read from the file) in the pack's float type and the graph's stored layout:
 * F16/BF16/F32 -> fp16/fp32 (fp32 -> fp16 refuses values beyond fp16's range), then the [out, in]
 * -> [in, out] transpose of Linear weights behind a MatMul.
 */
export function storedBytes(raw: Uint8Array, location: TensorLocation, spec: WeightSpec, target: PackDtype): Uint8Array {
  if (!littleEndian) throw new Error('diffusers pack builder: big-endian platforms are not supported');
  const { entry, file } = location;
  const aligned = raw.slice();
  // F32 and BF16 (widened exactly) go to fp16 only when every finite value fits.
  const fromFloat32 = (values: Float32Array): Float32Array | Uint16Array => {
    if (target === 'fp32') return values;
    const halves = toHalf(values);
    for (let i = 0; i < values.length; i++)
      if ((halves[i] & 0x7c00) === 0x7c00 && Number.isFinite(values[i])) throw new FormatError(file, entry.name, `value ${values[i]} at index ${i} does not fit in fp16; build an fp32 pack`);
    return halves;
  };
  let out: Float32Array | Uint16Array;
  if (entry.dtype === 'F32') out = fromFloat32(new Float32Array(aligned.buffer, 0, entry.elementCount));
  else {
    const bits = new Uint16Array(aligned.buffer, 0, entry.elementCount);
    if (entry.dtype === 'F16') out = target === 'fp16' ? bits : fromHalf(bits);
    else {
      const widened = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) widened[i] = bits[i] << 16;
      out = fromFloat32(new Float32Array(widened.buffer));
    }
  }
  if (spec.transposed) out = transpose(out, spec.torchDims[0], spec.torchDims[1]);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function transpose<T extends Float32Array | Uint16Array>(values: T, rows: number, cols: number): T {
  const out = new (values.constructor as new (n: number) => T)(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}
