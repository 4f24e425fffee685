/**
 * The parameters of AutoencoderKL's encoder half (encoder.* and quant_conv.*), which real
 * diffusers repos store next to the decoder. Lethe never runs the encoder, so it is not built as
 * a graph to run: the layer helpers are walked only to name and shape its parameters (with the
 * same initializers the forge uses everywhere), so the forge can write them and the pack builder
 * can check them.
 */
import { GraphBuilder, type WeightSpec } from './graph-builder.ts';
import { attention, conv2d, groupNorm } from './layers.ts';
import { resnetBlock } from './unet.ts';
import type { VaeDecoderShape } from './vae-decoder.ts';

export function vaeEncoderParameters(shape: VaeDecoderShape): WeightSpec[] {
  const graph = new GraphBuilder('fp32', 14);
  const root = graph.root();
  const encoder = root.child('encoder');
  const channels = shape.blockOutChannels;
  const groups = shape.normGroups;
  let h = conv2d(encoder.child('conv_in'), 'image', shape.outChannels, channels[0], 3);
  let width = channels[0];
  for (let b = 0; b < channels.length; b++) {
    const block = encoder.child('down_blocks').child(b);
    for (let l = 0; l < shape.layersPerBlock; l++) {
      h = resnetBlock(block.child('resnets').child(l), h, null, width, channels[b], groups, 1e-6, 0);
      width = channels[b];
    }
    if (b < channels.length - 1) h = conv2d(block.child('downsamplers').child(0).child('conv'), h, width, width, 3, 2);
  }
  const mid = encoder.child('mid_block');
  h = resnetBlock(mid.child('resnets').child(0), h, null, width, width, groups, 1e-6, 0);
  const attn = mid.child('attentions').child(0);
  h = attention(attn, groupNorm(attn.child('group_norm'), h, width, groups, 1e-6, 3), h, { queryDim: width, contextDim: width, heads: 1, headDim: width, qkvBias: true });
  h = resnetBlock(mid.child('resnets').child(1), h, null, width, width, groups, 1e-6, 0);
  h = conv2d(encoder.child('conv_out'), groupNorm(encoder.child('conv_norm_out'), h, width, groups, 1e-6), width, 2 * shape.latentChannels, 3);
  conv2d(root.child('quant_conv'), h, 2 * shape.latentChannels, 2 * shape.latentChannels, 1);
  return graph.weights;
}
