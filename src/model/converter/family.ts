/**
 * Which model family an export is, from its graphs (not from names or configs, which conversion
 * tools write inconsistently):
 *   text width 768                 -> sd15  (CLIP ViT-L/14)
 *   text width 1024                -> sd21  (OpenCLIP ViT-H/14)
 *   text width below 256 (tiny)    -> tiny-sd21 if the UNet's transformers use Linear proj_in
 *                                     (use_linear_projection, as SD 2.x), else tiny-sd15 (Conv proj_in, as SD 1.x)
 * Anything else is refused. Full-size families must also have SD's 16 cross-attention layers.
 */
import type { GraphProto } from '../../formats/onnx/types.ts';
import { FormatError } from '../../util/errors.ts';
import type { PackFamily } from '../manifest.ts';

export const FAMILY_RULE = 'text width 768 -> sd15, 1024 -> sd21, below 256 -> tiny-sd15 (Conv proj_in) or tiny-sd21 (Linear proj_in)';
const TINY_MAX_WIDTH = 256;
const FULL_SIZE_LAYERS = 16;

export function detectFamily(textHidden: number, unet: GraphProto, layerCount: number, file: string): PackFamily {
  let family: PackFamily;
  if (textHidden === 768) family = 'sd15';
  else if (textHidden === 1024) family = 'sd21';
  else if (textHidden < TINY_MAX_WIDTH) {
    const linear = unet.node.some((n) => n.name !== undefined && /^\/down_blocks\.\d+\/attentions\.\d+\/proj_in\/MatMul$/.test(n.name));
    const conv = unet.node.some((n) => n.name !== undefined && /^\/down_blocks\.\d+\/attentions\.\d+\/proj_in\/Conv$/.test(n.name));
    if (linear === conv)
      throw new FormatError(file, 'graph.node', `tiny model: cannot tell sd15 from sd21: expected either /down_blocks.N/attentions.N/proj_in/Conv or .../proj_in/MatMul nodes (${FAMILY_RULE})`);
    family = linear ? 'tiny-sd21' : 'tiny-sd15';
  } else {
    throw new FormatError(file, 'encoder_hidden_states', `unknown model family: text embedding width ${textHidden} (known: ${FAMILY_RULE})`);
  }
  if ((family === 'sd15' || family === 'sd21') && layerCount !== FULL_SIZE_LAYERS)
    throw new FormatError(file, 'graph.node', `${family} has ${FULL_SIZE_LAYERS} cross-attention layers, found ${layerCount}`);
  return family;
}

/** Default latent side for each family when unet/config.json does not give sample_size. */
export const DEFAULT_SAMPLE_SIZE: Record<PackFamily, number> = { sd15: 64, sd21: 96, 'tiny-sd15': 8, 'tiny-sd21': 8 };
