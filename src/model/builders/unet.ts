/**
 * UNet2DConditionModel (SD 1.x / 2.x) as an optimum/diffusers ONNX export:
 * (sample [B, 4, h, w], timestep [steps], encoder_hidden_states [B, S, d]) -> out_sample.
 * Down: CrossAttnDownBlock2D x3 + DownBlock2D; mid: UNetMidBlock2DCrossAttn;
 * up: UpBlock2D + CrossAttnUpBlock2D x3 with skip concatenation.
 */
import { TensorDataType } from '../../formats/onnx/types.ts';
import { attr, GraphBuilder, type GraphDtype, type Scope } from './graph-builder.ts';
import { attention, conv2d, dimension, gemm, gelu, groupNorm, layerNorm, linear, shapeOf, silu } from './layers.ts';

export interface UNetShape {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  crossAttentionDim: number;
  /** Heads of each down block's transformers (mid block: the last; up blocks: reversed). diffusers calls it attention_head_dim. */
  attentionHeads: number[];
  /** SD 2.x: proj_in/proj_out are Linear layers instead of 1x1 convolutions. */
  useLinearProjection: boolean;
  /** Latent size the model was trained at (config only; height/width stay dynamic). */
  sampleSize: number;
  /** GroupNorm epsilon of the resnets and conv_norm_out (norm_eps; SD: 1e-5). Transformers always use 1e-6. */
  normEps?: number;
  /** Timestep features as [cos, sin] (flip_sin_to_cos; SD: true). */
  flipSinToCos?: boolean;
  /** downscale_freq_shift of the sinusoidal features (freq_shift; SD: 0). */
  freqShift?: number;
}

export interface UNetOptions {
  dtype: GraphDtype;
  opset: 14 | 17;
  /** optimum exports int64 timesteps; diffusers' own conversion script float32. */
  timestepType: 'int64' | 'float32';
}

export interface CrossAttentionLayer {
  /** diffusers module path, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2 */
  module: string;
  heads: number;
  headDim: number;
}

export function buildUNet(shape: UNetShape, options: UNetOptions): { graph: GraphBuilder; crossAttention: CrossAttentionLayer[] } {
  const graph = new GraphBuilder(options.dtype, options.opset, 9000);
  const unet = new UNetWriter(graph, shape);
  const sample = graph.addInput('sample', graph.floatType, ['batch_size', 'num_channels', 'height', 'width']);
  const timestep = graph.addInput('timestep', options.timestepType === 'int64' ? TensorDataType.INT64 : TensorDataType.FLOAT, ['steps']);
  const context = graph.addInput('encoder_hidden_states', graph.floatType, ['batch_size', 'sequence_length', shape.crossAttentionDim]);
  unet.forward(sample, timestep, context, options.timestepType);
  graph.addOutput('out_sample', graph.floatType, ['batch_size', 'num_channels', 'height', 'width']);
  return { graph, crossAttention: unet.crossAttention };
}

class UNetWriter {
  readonly crossAttention: CrossAttentionLayer[] = [];
  private readonly root: Scope;
  private readonly timeDim: number;

  constructor(
    private readonly graph: GraphBuilder,
    private readonly shape: UNetShape,
  ) {
    this.root = graph.root();
    this.timeDim = shape.blockOutChannels[0] * 4;
  }

  forward(sample: string, timestep: string, context: string, timestepType: 'int64' | 'float32'): void {
    const { root, shape } = this;
    const channels = shape.blockOutChannels;
    // timesteps.expand(sample.shape[0])
    const batch = root.op('Unsqueeze', [dimension(root, sample, 0), root.int64([0])]);
    const timesteps = root.op('Expand', [timestep, batch]);
    let timeFeatures = this.timeProjection(root.child('time_proj'), timesteps, channels[0], timestepType, shape.flipSinToCos ?? true, shape.freqShift ?? 0);
    if (this.graph.dtype === 'fp16') timeFeatures = root.op('Cast', [timeFeatures], { to: attr.int(TensorDataType.FLOAT16) });
    const embedding = root.child('time_embedding');
    const hidden1 = gemm(embedding.child('linear_1'), timeFeatures, channels[0], this.timeDim);
    const temb = gemm(embedding.child('linear_2'), silu(embedding.child('act'), hidden1), this.timeDim, this.timeDim);

    let h = conv2d(root.child('conv_in'), sample, shape.inChannels, channels[0], 3);
    const skips: { name: string; channels: number }[] = [{ name: h, channels: channels[0] }];
    let hChannels = channels[0];
    const blocks = channels.length;
    for (let b = 0; b < blocks; b++) {
      const block = root.child('down_blocks').child(b);
      const withAttention = b < blocks - 1;
      for (let l = 0; l < shape.layersPerBlock; l++) {
        h = this.resnet(block.child('resnets').child(l), h, temb, hChannels, channels[b]);
        hChannels = channels[b];
        if (withAttention) h = this.transformer(block.child('attentions').child(l), h, context, hChannels, shape.attentionHeads[b]);
        skips.push({ name: h, channels: hChannels });
      }
      if (b < blocks - 1) {
        h = conv2d(block.child('downsamplers').child(0).child('conv'), h, hChannels, hChannels, 3, 2);
        skips.push({ name: h, channels: hChannels });
      }
    }

    const mid = root.child('mid_block');
    const midChannels = channels[blocks - 1];
    h = this.resnet(mid.child('resnets').child(0), h, temb, midChannels, midChannels);
    h = this.transformer(mid.child('attentions').child(0), h, context, midChannels, shape.attentionHeads[blocks - 1]);
    h = this.resnet(mid.child('resnets').child(1), h, temb, midChannels, midChannels);

    for (let u = 0; u < blocks; u++) {
      const block = root.child('up_blocks').child(u);
      const outChannels = channels[blocks - 1 - u];
      const withAttention = u > 0;
      for (let l = 0; l <= shape.layersPerBlock; l++) {
        const skip = skips.pop();
        if (!skip) throw new Error('forge: UNet skip connections exhausted');
        h = block.op('Concat', [h, skip.name], { axis: attr.int(1) });
        h = this.resnet(block.child('resnets').child(l), h, temb, hChannels + skip.channels, outChannels);
        hChannels = outChannels;
        if (withAttention) h = this.transformer(block.child('attentions').child(l), h, context, hChannels, shape.attentionHeads[blocks - 1 - u]);
      }
      if (u < blocks - 1) h = upsample(block.child('upsamplers').child(0), h, hChannels);
    }

    h = groupNorm(root.child('conv_norm_out'), h, hChannels, shape.normGroups, shape.normEps ?? 1e-5);
    h = silu(root.child('conv_act'), h);
    const out = conv2d(root.child('conv_out'), h, hChannels, shape.outChannels, 3);
    renameLastOutput(this.graph, out, 'out_sample');
  }

  /** Timesteps: sinusoidal features (diffusers get_timestep_embedding, max_period 10000). */
  private timeProjection(s: Scope, timesteps: string, width: number, timestepType: 'int64' | 'float32', flipSinToCos: boolean, freqShift: number): string {
    const half = width / 2;
    const exponent = Array.from({ length: half }, (_, i) => (-Math.log(10000) * i) / (half - freqShift));
    // Frequencies and angles stay float32 even in fp16 models: the module computes them in float.
    const frequencies = s.op('Exp', [s.op('Constant', [], { value: attr.tensor(float32Tensor(exponent, [1, half])) })]);
    let column = s.op('Unsqueeze', [timesteps, s.int64([1])]);
    if (timestepType === 'int64') column = s.op('Cast', [column], { to: attr.int(TensorDataType.FLOAT) });
    const angles = s.op('Mul', [column, frequencies]);
    const features = s.op('Concat', [s.op('Sin', [angles]), s.op('Cos', [angles])], { axis: attr.int(-1) });
    if (!flipSinToCos) return features;
    const slice = (start: number, end: number): string =>
      s.op('Slice', [features, s.int64([start]), s.int64([end]), s.int64([1]), s.int64([1])]);
    return s.op('Concat', [slice(half, width), slice(0, half)], { axis: attr.int(-1) });
  }

  private resnet(s: Scope, x: string, temb: string, inChannels: number, outChannels: number): string {
    return resnetBlock(s, x, temb, inChannels, outChannels, this.shape.normGroups, this.shape.normEps ?? 1e-5, this.timeDim);
  }

  /** Transformer2DModel with one BasicTransformerBlock. */
  private transformer(s: Scope, x: string, context: string, channels: number, heads: number): string {
    const { shape } = this;
    const headDim = channels / heads;
    if (!Number.isInteger(headDim)) throw new Error(`forge: ${s.prefix}: ${channels} channels do not split into ${heads} heads`);
    const batch = dimension(s, x, 0);
    const height = dimension(s, x, 2);
    const width = dimension(s, x, 3);
    const pixels = s.op('Mul', [height, width]);
    let h = groupNorm(s.child('norm'), x, channels, shape.normGroups, 1e-6);
    const toTokens = (v: string): string =>
      s.op('Reshape', [s.op('Transpose', [v], { perm: attr.ints([0, 2, 3, 1]) }), shapeOf(s, [batch, pixels, channels])]);
    const toImage = (v: string): string =>
      s.op('Transpose', [s.op('Reshape', [v, shapeOf(s, [batch, height, width, channels])])], { perm: attr.ints([0, 3, 1, 2]) });
    if (shape.useLinearProjection) h = linear(s.child('proj_in'), toTokens(h), channels, channels, true);
    else h = toTokens(conv2d(s.child('proj_in'), h, channels, channels, 1));

    const block = s.child('transformer_blocks').child(0);
    const self = { queryDim: channels, contextDim: channels, heads, headDim, qkvBias: false };
    const normed1 = layerNorm(block.child('norm1'), h, channels, 1e-5);
    h = block.op('Add', [attention(block.child('attn1'), normed1, normed1, self), h]);
    const normed = layerNorm(block.child('norm2'), h, channels, 1e-5);
    const cross = { ...self, contextDim: shape.crossAttentionDim };
    h = block.op('Add', [attention(block.child('attn2'), normed, context, cross), h]);
    this.crossAttention.push({ module: block.child('attn2').prefix, heads, headDim });
    h = block.op('Add', [feedForward(block.child('ff'), layerNorm(block.child('norm3'), h, channels, 1e-5), channels), h]);

    const out = shape.useLinearProjection
      ? toImage(linear(s.child('proj_out'), h, channels, channels, true))
      : conv2d(s.child('proj_out'), toImage(h), channels, channels, 1);
    return s.op('Add', [out, x]);
  }
}

/** ResnetBlock2D (temb given for the UNet; the VAE's blocks have none). */
export function resnetBlock(
  s: Scope,
  x: string,
  temb: string | null,
  inChannels: number,
  outChannels: number,
  groups: number,
  epsilon: number,
  timeDim: number,
): string {
  const act = s.child('nonlinearity');
  let h = conv2d(s.child('conv1'), silu(act, groupNorm(s.child('norm1'), x, inChannels, groups, epsilon)), inChannels, outChannels, 3);
  if (temb !== null) {
    const projected = gemm(s.child('time_emb_proj'), silu(act, temb), timeDim, outChannels);
    h = s.op('Add', [h, s.op('Unsqueeze', [projected, s.int64([2, 3])])]);
  }
  h = conv2d(s.child('conv2'), silu(act, groupNorm(s.child('norm2'), h, outChannels, groups, epsilon)), outChannels, outChannels, 3);
  const shortcut = inChannels === outChannels ? x : conv2d(s.child('conv_shortcut'), x, inChannels, outChannels, 1);
  // output_scale_factor is 1 for SD; torch still records the division.
  return s.op('Div', [s.op('Add', [shortcut, h]), s.float([1])]);
}

/** Upsample2D: nearest x2 through Resize, then a 3x3 conv. */
export function upsample(s: Scope, x: string, channels: number): string {
  const roi = s.op('Constant', [], { value: attr.tensor(float32Tensor([], [0])) });
  const scales = s.op('Constant', [], { value: attr.tensor(float32Tensor([1, 1, 2, 2], [4])) });
  const resized = s.op('Resize', [x, roi, scales], {
    coordinate_transformation_mode: attr.string('asymmetric'),
    cubic_coeff_a: attr.float(-0.75),
    mode: attr.string('nearest'),
    nearest_mode: attr.string('floor'),
  });
  return conv2d(s.child('conv'), resized, channels, channels, 3);
}

/** FeedForward with GEGLU: net.0.proj to 2 x inner, chunk, x * gelu(gate), net.2 back. */
function feedForward(s: Scope, x: string, channels: number): string {
  const inner = channels * 4;
  const geglu = s.child('net.0');
  const projected = linear(geglu.child('proj'), x, channels, inner * 2, true);
  const slice = (start: number, end: number): string =>
    geglu.op('Slice', [projected, geglu.int64([start]), geglu.int64([end]), geglu.int64([-1]), geglu.int64([1])]);
  const hidden = slice(0, inner);
  const gate = slice(inner, inner * 2);
  return linear(s.child('net.2'), geglu.op('Mul', [hidden, gelu(geglu, gate)]), inner, channels, true);
}

export function float32Tensor(values: number[], dims: number[]) {
  return { dims, dataType: TensorDataType.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Gives the node that produced `tensor` the graph-output name (torch names outputs after the export's output_names). */
export function renameLastOutput(graph: GraphBuilder, tensor: string, name: string): void {
  for (const node of graph.nodes) {
    node.output = node.output.map((o) => (o === tensor ? name : o));
    node.input = node.input.map((i) => (i === tensor ? name : i));
  }
}
