import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { readSafetensors, tensorToFloat32 } from '../../formats/safetensors/index.ts';
import type { CrossAttentionLayer } from '../../model/manifest.ts';
import { FormatError } from '../../util/errors.ts';
import type { PackReader } from '../../model/pack-reader.ts';

/** Every attn2 to_k / to_v weight of the pack, [out, in] as torch stores it, on the GPU. */
export interface CrossAttentionWeights {
  layers: readonly CrossAttentionLayer[];
  toK: GpuTensor[];
  toV: GpuTensor[];
  /** CPU copies (float32) for the closed-form edit and LoRA export, which work on the CPU. */
  host: { toK: Float32Array; toV: Float32Array }[];
}

export async function loadCrossAttentionWeights(ctx: GpuContext, pack: PackReader): Promise<CrossAttentionWeights> {
  const file = pack.manifest.crossAttentionWeights;
  const tensors = readSafetensors(await pack.bytes(file), file).tensors;
  const weight = (name: string, shape: readonly number[]) => {
    const tensor = tensors.get(name);
    if (!tensor) throw new FormatError(file, name, 'missing: the manifest lists it as a cross-attention projection');
    if (tensor.shape.join() !== shape.join()) throw new FormatError(file, name, `shape [${tensor.shape}], manifest says [${shape}]`);
    return tensorToFloat32(tensor, file);
  };
  const layers = pack.manifest.crossAttention;
  const host = layers.map((layer) => ({ toK: weight(layer.toK.name, layer.toK.shape), toV: weight(layer.toV.name, layer.toV.shape) }));
  return {
    layers,
    host,
    toK: layers.map((layer, i) => ctx.upload(host[i].toK, layer.toK.shape)),
    toV: layers.map((layer, i) => ctx.upload(host[i].toV, layer.toV.shape)),
  };
}
