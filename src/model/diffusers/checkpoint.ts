/**
 * The weights of one diffusers component (unet/, text_encoder/, vae/) as a table of safetensors
 * headers: which file and which absolute byte range holds each tensor. Only headers are read
 * here; tensor bytes are read by range when the pack is written, one tensor at a time.
 *
 * File choice, as diffusers' `variant="fp16"` loading: `<name>.fp16.safetensors` (or its sharded
 * index) when present unless the main file is asked for, else `<name>.safetensors` (or
 * `<name>.safetensors.index.json` with shards). Pickle checkpoints (.bin) are refused.
 */
import { readSafetensorsHeader, readSafetensorsPrefix, SAFETENSORS_PREFIX_BYTES, type SafetensorsEntry } from '../../formats/safetensors/index.ts';
import { FormatError } from '../../util/errors.ts';
import type { ExportSource } from '../sources/export-source.ts';
import { parseJsonObject } from '../../util/json-fields.ts';

export type WeightVariant = 'auto' | 'fp16' | 'main';

export interface TensorLocation {
  file: string;
  entry: SafetensorsEntry;
}

export interface ComponentCheckpoint {
  component: string;
  /** The weight files read (shards in index order). */
  files: string[];
  /** Every tensor by its name in the file. */
  tensors: Map<string, TensorLocation>;
}

export async function readRangeOf(source: ExportSource, path: string, offset: number, length: number): Promise<Uint8Array> {
  if (source.readRange) {
    const bytes = await source.readRange(path, offset, length);
    if (bytes.byteLength !== length) throw new FormatError(path, '(file)', `ended early: wanted ${length} bytes at ${offset}, got ${bytes.byteLength}`);
    return bytes;
  }
  return (await source.read(path)).subarray(offset, offset + length);
}

export async function openCheckpoint(source: ExportSource, component: string, baseName: string, variant: WeightVariant): Promise<ComponentCheckpoint> {
  const base = `${component}/${baseName}`;
  const candidates = {
    fp16: [`${base}.fp16.safetensors`, `${base}.safetensors.index.fp16.json`],
    main: [`${base}.safetensors`, `${base}.safetensors.index.json`],
  };
  const order = variant === 'main' ? candidates.main : variant === 'fp16' ? candidates.fp16 : [...candidates.fp16, ...candidates.main];
  for (const path of order) {
    if ((await source.size(path)) === undefined) continue;
    const files = path.endsWith('.json') ? await shardFiles(source, path, component) : [path];
    const tensors = new Map<string, TensorLocation>();
    for (const file of files) {
      const header = await readHeader(source, file);
      for (const [name, entry] of header) {
        if (tensors.has(name)) throw new FormatError(file, name, `also stored in ${tensors.get(name)!.file}`);
        tensors.set(name, { file, entry });
      }
    }
    return { component, files, tensors };
  }
  const pickle = [`${base}.bin`, `${base}.fp16.bin`];
  for (const path of pickle)
    if ((await source.size(path)) !== undefined)
      throw new FormatError(path, '(file)', 'PyTorch pickle checkpoints are not read (they can run code); this repo needs safetensors weights for this component');
  throw new FormatError(`${component}/`, '(files)', `no weights found: looked for ${order.join(', ')}`);
}

async function shardFiles(source: ExportSource, indexPath: string, component: string): Promise<string[]> {
  const index = parseJsonObject(await source.read(indexPath), indexPath);
  const map = index.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new FormatError(indexPath, 'weight_map', 'expected an object of tensor name -> shard file');
  const files: string[] = [];
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !/^[A-Za-z0-9._-]+\.safetensors$/.test(shard)) throw new FormatError(indexPath, `weight_map.${name}`, `expected a .safetensors file name, got ${JSON.stringify(shard)}`);
    const path = `${component}/${shard}`;
    if (!files.includes(path)) files.push(path);
  }
  if (files.length === 0) throw new FormatError(indexPath, 'weight_map', 'lists no shards');
  return files;
}

async function readHeader(source: ExportSource, file: string): Promise<ReadonlyMap<string, SafetensorsEntry>> {
  const size = await source.size(file);
  if (size === undefined) throw new FormatError(file, '(file)', 'missing (listed by the index)');
  const prefix = size >= SAFETENSORS_PREFIX_BYTES ? await readRangeOf(source, file, 0, SAFETENSORS_PREFIX_BYTES) : new Uint8Array(0);
  const { dataStart } = readSafetensorsPrefix(prefix, size, file);
  const head = await readRangeOf(source, file, 0, dataStart);
  return readSafetensorsHeader(head, size, file).tensors;
}
