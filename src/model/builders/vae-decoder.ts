/**
 * AutoencoderKL.decode as exported: latent_sample [B, 4, h, w] -> sample [B, 3, 8h, 8w].
 * post_quant_conv, decoder.conv_in, mid block (resnet, attention, resnet), UpDecoderBlock2D x4,
 * conv_norm_out, SiLU, conv_out. The 1/scaling_factor multiply stays in the pipeline, as in real exports.
 */
import { attr, GraphBuilder, type GraphDtype, type Scope } from './graph-builder.ts';
import { attention, conv2d, dimension, groupNorm, shapeOf, silu } from './layers.ts';
import { renameLastOutput, resnetBlock, upsample } from './unet.ts';

export interface VaeDecoderShape {
  latentChannels: number;
  outChannels: number;
  /** The encoder's order, as in config.json; the decoder walks it reversed. */
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  sampleSize: number;
  scalingFactor: number;
}

export function buildVaeDecoder(shape: VaeDecoderShape, options: { dtype: GraphDtype; opset: 14 | 17 }): GraphBuilder {
  const graph = new GraphBuilder(options.dtype, options.opset, 500);
  const root = graph.root();
  const latent = graph.addInput('latent_sample', graph.floatType, ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent']);
  const groups = shape.normGroups;
  const resnet = (s: Scope, x: string, cin: number, cout: number): string => resnetBlock(s, x, null, cin, cout, groups, 1e-6, 0);

  let h = conv2d(root.child('post_quant_conv'), latent, shape.latentChannels, shape.latentChannels, 1);
  const decoder = root.child('decoder');
  const reversed = [...shape.blockOutChannels].reverse();
  h = conv2d(decoder.child('conv_in'), h, shape.latentChannels, reversed[0], 3);
  const mid = decoder.child('mid_block');
  h = resnet(mid.child('resnets').child(0), h, reversed[0], reversed[0]);
  h = vaeAttention(mid.child('attentions').child(0), h, reversed[0], groups);
  h = resnet(mid.child('resnets').child(1), h, reversed[0], reversed[0]);
  let channels = reversed[0];
  for (let u = 0; u < reversed.length; u++) {
    const block = decoder.child('up_blocks').child(u);
    for (let l = 0; l <= shape.layersPerBlock; l++) {
      h = resnet(block.child('resnets').child(l), h, channels, reversed[u]);
      channels = reversed[u];
    }
    if (u < reversed.length - 1) h = upsample(block.child('upsamplers').child(0), h, channels);
  }
  h = silu(decoder.child('conv_act'), groupNorm(decoder.child('conv_norm_out'), h, channels, groups, 1e-6));
  renameLastOutput(graph, conv2d(decoder.child('conv_out'), h, channels, shape.outChannels, 3), 'sample');
  graph.addOutput('sample', graph.floatType, ['batch_size', 'num_channels', 'height', 'width']);
  return graph;
}

/** The VAE's single-head spatial self-attention with its own GroupNorm and residual. */
function vaeAttention(s: Scope, x: string, channels: number, groups: number): string {
  const batch = dimension(s, x, 0);
  const height = dimension(s, x, 2);
  const width = dimension(s, x, 3);
  const flat = s.op('Reshape', [x, shapeOf(s, [batch, channels, s.op('Mul', [height, width])])]);
  const normed = groupNorm(s.child('group_norm'), flat, channels, groups, 1e-6, 3);
  const tokens = s.op('Transpose', [normed], { perm: attr.ints([0, 2, 1]) });
  const attended = attention(s, tokens, tokens, { queryDim: channels, contextDim: channels, heads: 1, headDim: channels, qkvBias: true });
  const image = s.op('Reshape', [s.op('Transpose', [attended], { perm: attr.ints([0, 2, 1]) }), shapeOf(s, [batch, channels, height, width])]);
  return s.op('Div', [s.op('Add', [image, x]), s.float([1])]);
}
