import { FormatError } from '../../util/errors.ts';
import { tensorToFloat32 } from '../safetensors/elements.ts';
import { readSafetensors, type SafetensorsTensor } from '../safetensors/reader.ts';
import { describeLoraKey, type LoraConvention } from './keys.ts';
import type { LoraFullDiff, LoraLayerDelta } from './layer.ts';
import { isCrossAttentionKeyValue } from './module-grammar.ts';

export interface ReadLoraResult {
  /** Low-rank updates of the modules Lethe edits (attn2.to_k / attn2.to_v), in file order; alpha as in the file (rank when absent). */
  readonly layers: LoraLayerDelta[];
  /** Full weight differences (`.diff`) of those modules. */
  readonly fullDiffs: LoraFullDiff[];
  /** Keys Lethe does not apply (other UNet modules, text encoder, unknown keys), listed rather than dropped. */
  readonly unsupported: string[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Key conventions seen among the UNet keys. */
  readonly conventions: LoraConvention[];
}

interface ModuleKeys {
  down?: string;
  up?: string;
  alpha?: string;
  diff?: string;
}

/**
 * Reads a LoRA safetensors file in the diffusers/PEFT or kohya convention (or a mix).
 * Every UNet factor must come with its partner and agree on rank; the factors of edited modules
 * must be 2-D float tensors; a module named twice (e.g. under both conventions) is an error.
 */
export function readLora(bytes: Uint8Array, file: string): ReadLoraResult {
  const { tensors, metadata } = readSafetensors(bytes, file);
  const modules = new Map<string, ModuleKeys>();
  const unsupported: string[] = [];
  const conventions = new Set<LoraConvention>();
  for (const key of tensors.keys()) {
    const info = describeLoraKey(key);
    if (info.component !== 'unet' || info.module === null || info.role === 'other') {
      unsupported.push(key);
      continue;
    }
    if (info.convention) conventions.add(info.convention);
    const keys = modules.get(info.module) ?? {};
    const previous = keys[info.role];
    if (previous !== undefined) throw new FormatError(file, key, `names the same ${info.role} of ${info.module} as ${JSON.stringify(previous)}`);
    keys[info.role] = key;
    modules.set(info.module, keys);
  }

  const layers: LoraLayerDelta[] = [];
  const fullDiffs: LoraFullDiff[] = [];
  for (const [module, keys] of modules) {
    const edited = isCrossAttentionKeyValue(module);
    if (keys.down !== undefined || keys.up !== undefined || keys.alpha !== undefined) {
      if (keys.down === undefined || keys.up === undefined) {
        const present = (keys.down ?? keys.up ?? keys.alpha)!;
        const missing = keys.down === undefined ? 'down (lora_down / lora_A)' : 'up (lora_up / lora_B)';
        throw new FormatError(file, present, `module ${module} has no ${missing} factor to go with it`);
      }
      const down = tensors.get(keys.down)!;
      const up = tensors.get(keys.up)!;
      if (down.shape.length < 2) throw new FormatError(file, keys.down, `expected [rank, in], got shape [${down.shape.join(', ')}]`);
      if (up.shape.length < 2) throw new FormatError(file, keys.up, `expected [out, rank], got shape [${up.shape.join(', ')}]`);
      if (down.shape[0] !== up.shape[1])
        throw new FormatError(file, keys.up, `rank ${up.shape[1]} (shape [${up.shape.join(', ')}]) differs from rank ${down.shape[0]} of ${keys.down}`);
      if (edited) layers.push(readLayer(module, down, up, keys.alpha === undefined ? undefined : tensors.get(keys.alpha)!, file));
      else unsupported.push(keys.down, keys.up, ...(keys.alpha === undefined ? [] : [keys.alpha]));
    }
    if (keys.diff !== undefined) {
      const diff = tensors.get(keys.diff)!;
      if (!edited) unsupported.push(keys.diff);
      else {
        const [outFeatures, inFeatures] = matrixShape(diff, 'a full difference [out, in]', file);
        fullDiffs.push({ module, diff: tensorToFloat32(diff, file), outFeatures, inFeatures });
      }
    }
  }
  const order = new Map([...tensors.keys()].map((key, i) => [key, i]));
  unsupported.sort((a, b) => order.get(a)! - order.get(b)!);
  return { layers, fullDiffs, unsupported, metadata, conventions: [...conventions] };
}

function readLayer(module: string, down: SafetensorsTensor, up: SafetensorsTensor, alphaTensor: SafetensorsTensor | undefined, file: string): LoraLayerDelta {
  const [rank, inFeatures] = matrixShape(down, 'a linear down factor [rank, in]', file);
  const [outFeatures] = matrixShape(up, 'a linear up factor [out, rank]', file);
  let alpha = rank;
  if (alphaTensor) {
    if (alphaTensor.elementCount !== 1 || alphaTensor.shape.length > 1)
      throw new FormatError(file, alphaTensor.name, `expected a scalar (shape [] or [1]), got shape [${alphaTensor.shape.join(', ')}]`);
    alpha = tensorToFloat32(alphaTensor, file)[0];
    if (!Number.isFinite(alpha)) throw new FormatError(file, alphaTensor.name, `expected a finite alpha, got ${alpha}`);
  }
  return { module, down: tensorToFloat32(down, file), up: tensorToFloat32(up, file), rank, inFeatures, outFeatures, alpha };
}

function matrixShape(tensor: SafetensorsTensor, what: string, file: string): [number, number] {
  if (tensor.shape.length !== 2 || tensor.shape[0] < 1 || tensor.shape[1] < 1)
    throw new FormatError(file, tensor.name, `expected ${what}: 2-D with no empty dimension, got shape [${tensor.shape.join(', ')}]`);
  if (tensor.dtype !== 'F32' && tensor.dtype !== 'F16' && tensor.dtype !== 'BF16')
    throw new FormatError(file, tensor.name, `expected a float tensor (F32, F16, BF16), got ${tensor.dtype}`);
  return [tensor.shape[0], tensor.shape[1]];
}
