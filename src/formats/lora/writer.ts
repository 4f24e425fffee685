import { InputError, ShapeError } from '../../util/errors.ts';
import { float32ToHalfBits } from '../../util/half.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../safetensors/writer.ts';
import { loraKeys, type LoraConvention } from './keys.ts';
import { loraScale, type LoraLayerDelta } from './layer.ts';
import { isUnetModule } from './module-grammar.ts';

export interface WriteLoraOptions {
  readonly convention: LoraConvention;
  readonly dtype: 'fp16' | 'fp32';
  /** `__metadata__` (strings only); see loraMetadata for the keys A1111/ComfyUI and Lethe read. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * A LoRA safetensors file for UNet layers.
 *
 * diffusers/PEFT: `unet.<module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r], with
 * alpha / r folded into lora_B (PEFT keeps alpha outside the file, so the file must hold the
 * scaled update). kohya: `lora_unet_<module with '_'>.lora_down.weight`, `.lora_up.weight`
 * and a scalar `.alpha` (always F32, so the scale is exact in fp16 files too) holding
 * layer.alpha; factors are written unscaled.
 */
export function writeLora(layers: readonly LoraLayerDelta[], options: WriteLoraOptions): Uint8Array {
  const { convention, dtype } = options;
  if (convention !== 'diffusers' && convention !== 'kohya') throw new InputError(`writeLora: convention must be "diffusers" or "kohya", got ${String(convention)}`);
  if (dtype !== 'fp16' && dtype !== 'fp32') throw new InputError(`writeLora: dtype must be "fp16" or "fp32", got ${String(dtype)}`);
  const tensors: [string, SafetensorsWriteTensor][] = [];
  const seen = new Set<string>();
  for (const layer of layers) {
    checkLayer(layer);
    if (seen.has(layer.module)) throw new InputError(`writeLora: module ${layer.module} given twice`);
    seen.add(layer.module);
    const keys = loraKeys(layer.module, convention);
    const up = convention === 'diffusers' ? scaled(layer.up, loraScale(layer)) : layer.up;
    tensors.push([keys.down, factor(layer.down, [layer.rank, layer.inFeatures], dtype, layer.module)]);
    tensors.push([keys.up, factor(up, [layer.outFeatures, layer.rank], dtype, layer.module)]);
    if (keys.alpha) tensors.push([keys.alpha, { dtype: 'F32', shape: [], data: Float32Array.of(layer.alpha) }]);
  }
  return writeSafetensors(tensors, options.metadata ?? {});
}

function checkLayer(layer: LoraLayerDelta): void {
  const { module, rank, inFeatures, outFeatures, alpha } = layer;
  if (typeof module !== 'string' || !isUnetModule(module))
    throw new InputError(`writeLora: ${JSON.stringify(module)} is not a diffusers UNet module path (e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k)`);
  for (const [name, value] of [['rank', rank], ['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const)
    if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`writeLora: ${module}: ${name} must be a positive integer, got ${value}`);
  if (!Number.isFinite(alpha)) throw new InputError(`writeLora: ${module}: alpha must be finite, got ${alpha}`);
  if (!(layer.down instanceof Float32Array) || layer.down.length !== rank * inFeatures)
    throw new ShapeError(`writeLora: ${module}: down must be a Float32Array of rank * inFeatures = ${rank * inFeatures} values, got ${layer.down?.length}`);
  if (!(layer.up instanceof Float32Array) || layer.up.length !== outFeatures * rank)
    throw new ShapeError(`writeLora: ${module}: up must be a Float32Array of outFeatures * rank = ${outFeatures * rank} values, got ${layer.up?.length}`);
}

function scaled(values: Float32Array, scale: number): Float32Array {
  if (scale === 1) return values;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * scale;
  return out;
}

function factor(values: Float32Array, shape: number[], dtype: 'fp16' | 'fp32', module: string): SafetensorsWriteTensor {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new InputError(`writeLora: ${module} holds a non-finite value (${values[i]}) at ${i}`);
    if (dtype === 'fp16' && (float32ToHalfBits(values[i]) & 0x7c00) === 0x7c00)
      throw new InputError(`writeLora: ${module}: ${values[i]} at ${i} exceeds the float16 range; export fp32`);
  }
  return { dtype: dtype === 'fp16' ? 'F16' : 'F32', shape, data: values };
}
