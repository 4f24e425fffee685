/**
 * torch modules as torch.onnx decomposes them (opset 14/17), emitted into a Scope. Each function
 * mirrors one torch module or functional; its parameters are drawn at scales that keep activations
 * O(1) through a randomly initialized network.
 */
import { attr, type Scope, type WeightInit } from './graph-builder.ts';

const BIAS: WeightInit = { kind: 'normal', std: 0.05 };
const NORM_WEIGHT: WeightInit = { kind: 'normal', mean: 1, std: 0.1 };
const NORM_BIAS: WeightInit = { kind: 'normal', std: 0.1 };

/** nn.Linear on a rank >= 3 input: MatMul with the transposed weight (`onnx::MatMul_<n>`), then Add(bias, .). */
export function linear(s: Scope, x: string, inFeatures: number, outFeatures: number, bias: boolean): string {
  const weight = s.anonymous('MatMul', 'weight', [outFeatures, inFeatures], [inFeatures, outFeatures], { kind: 'normal', std: 1 / Math.sqrt(inFeatures) }, true);
  const product = s.op('MatMul', [x, weight]);
  if (!bias) return product;
  return s.op('Add', [s.param('bias', [outFeatures], BIAS), product]);
}

/** nn.Linear on a 2-D input: one Gemm with transB=1 and the weights under their own names. */
export function gemm(s: Scope, x: string, inFeatures: number, outFeatures: number): string {
  const weight = s.param('weight', [outFeatures, inFeatures], { kind: 'normal', std: 1 / Math.sqrt(inFeatures) });
  const bias = s.param('bias', [outFeatures], BIAS);
  return s.op('Gemm', [x, weight, bias], { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(1) });
}

export function conv2d(s: Scope, x: string, inChannels: number, outChannels: number, kernel: number, stride = 1, outputScale = 1): string {
  const fanIn = inChannels * kernel * kernel;
  const weight = s.param('weight', [outChannels, inChannels, kernel, kernel], { kind: 'normal', std: outputScale / Math.sqrt(fanIn) });
  const bias = s.param('bias', [outChannels], BIAS);
  const pad = (kernel - 1) >> 1;
  return s.op('Conv', [x, weight, bias], {
    dilations: attr.ints([1, 1]),
    group: attr.int(1),
    kernel_shape: attr.ints([kernel, kernel]),
    pads: attr.ints([pad, pad, pad, pad]),
    strides: attr.ints([stride, stride]),
  });
}

/**
 * nn.GroupNorm as torch.onnx writes it: Reshape to [N, G, -1], InstanceNormalization with unit
 * scale and zero bias, Reshape back to Shape(x), then the affine weights (unsqueezed to [C, 1, ..],
 * folded into anonymous initializers).
 */
export function groupNorm(s: Scope, x: string, channels: number, groups: number, epsilon: number, rank = 4): string {
  if (channels % groups !== 0) throw new Error(`forge: ${s.prefix}: ${channels} channels do not split into ${groups} groups`);
  const grouped = s.op('Reshape', [x, s.int64([0, groups, -1])]);
  const ones = s.float(new Array<number>(groups).fill(1), [groups]);
  const zeros = s.float(new Array<number>(groups).fill(0), [groups]);
  const normalized = s.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: attr.float(epsilon) });
  const restored = s.op('Reshape', [normalized, s.op('Shape', [x])]);
  const affineDims = [channels, ...new Array<number>(rank - 2).fill(1)];
  const weight = s.anonymous('Mul', 'weight', [channels], affineDims, NORM_WEIGHT);
  const bias = s.anonymous('Add', 'bias', [channels], affineDims, NORM_BIAS);
  return s.op('Add', [s.op('Mul', [restored, weight]), bias]);
}

/** nn.LayerNorm over the last axis: LayerNormalization at opset 17, the ReduceMean chain before. */
export function layerNorm(s: Scope, x: string, width: number, epsilon: number): string {
  const weight = s.param('weight', [width], NORM_WEIGHT);
  const bias = s.param('bias', [width], NORM_BIAS);
  if (s.graph.opset >= 17) return s.op('LayerNormalization', [x, weight, bias], { axis: attr.int(-1), epsilon: attr.float(epsilon) });
  const mean = s.op('ReduceMean', [x], { axes: attr.ints([-1]) });
  const centered = s.op('Sub', [x, mean]);
  const variance = s.op('ReduceMean', [s.op('Pow', [centered, s.float([2])])], { axes: attr.ints([-1]) });
  const deviation = s.op('Sqrt', [s.op('Add', [variance, s.float([epsilon])])]);
  return s.op('Add', [s.op('Mul', [s.op('Div', [centered, deviation]), weight]), bias]);
}

/** SiLU: x * sigmoid(x). */
export function silu(s: Scope, x: string): string {
  return s.op('Mul', [x, s.op('Sigmoid', [x])]);
}

/** Exact GELU through Erf: x * 0.5 * (1 + erf(x / sqrt 2)). */
export function gelu(s: Scope, x: string): string {
  const erf = s.op('Erf', [s.op('Div', [x, s.float([Math.SQRT2])])]);
  return s.op('Mul', [s.op('Mul', [x, s.op('Add', [erf, s.float([1])])]), s.float([0.5])]);
}

/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export function quickGelu(s: Scope, x: string): string {
  return s.op('Mul', [x, s.op('Sigmoid', [s.op('Mul', [x, s.float([1.702])])])]);
}

/** Size of axis `axis` of x as an int64 scalar (Shape -> Gather). */
export function dimension(s: Scope, x: string, axis: number): string {
  return s.op('Gather', [s.op('Shape', [x]), s.int64([axis], [])], { axis: attr.int(0) });
}

/** A shape tensor assembled from int64 scalars (each Unsqueezed) and constants, as torch emits for view(). */
export function shapeOf(s: Scope, parts: (string | number)[]): string {
  const pieces = parts.map((part) => (typeof part === 'number' ? s.int64([part]) : s.op('Unsqueeze', [part, s.int64([0])])));
  return s.op('Concat', pieces, { axis: attr.int(0) });
}

/** [B, N, heads * dim] -> [B, heads, N, dim] (or [B, heads, dim, N] for keys when `keyLayout`). */
export function splitHeads(s: Scope, x: string, batch: string, heads: number, headDim: number, keyLayout = false): string {
  const reshaped = s.op('Reshape', [x, shapeOf(s, [batch, -1, heads, headDim])]);
  return s.op('Transpose', [reshaped], { perm: attr.ints(keyLayout ? [0, 2, 3, 1] : [0, 2, 1, 3]) });
}

/** [B, heads, N, dim] -> [B, N, heads * dim]. */
export function mergeHeads(s: Scope, x: string, batch: string, heads: number, headDim: number): string {
  const transposed = s.op('Transpose', [x], { perm: attr.ints([0, 2, 1, 3]) });
  return s.op('Reshape', [transposed, shapeOf(s, [batch, -1, heads * headDim])]);
}

export interface AttentionShape {
  queryDim: number;
  /** Width of the states keys/values are computed from (queryDim for self-attention). */
  contextDim: number;
  heads: number;
  headDim: number;
  /** Bias on to_q/to_k/to_v (VAE attention has it, UNet attention does not). */
  qkvBias: boolean;
}

/**
 * diffusers Attention (to_q, to_k, to_v, to_out.0) as scaled_dot_product_attention exports:
 * q and k^T each scaled by headDim^-1/4, MatMul, Softmax, MatMul with v.
 * `context` is the encoder hidden states for cross-attention (attn2), else x itself.
 */
export function attention(s: Scope, x: string, context: string, shape: AttentionShape): string {
  const inner = shape.heads * shape.headDim;
  const q = linear(s.child('to_q'), x, shape.queryDim, inner, shape.qkvBias);
  const k = linear(s.child('to_k'), context, shape.contextDim, inner, shape.qkvBias);
  const v = linear(s.child('to_v'), context, shape.contextDim, inner, shape.qkvBias);
  const batch = dimension(s, x, 0);
  const q4 = splitHeads(s, q, batch, shape.heads, shape.headDim);
  const kT = splitHeads(s, k, batch, shape.heads, shape.headDim, true);
  const v4 = splitHeads(s, v, batch, shape.heads, shape.headDim);
  const rootScale = s.float([shape.headDim ** -0.25]);
  const scores = s.op('MatMul', [s.op('Mul', [q4, rootScale]), s.op('Mul', [kT, rootScale])]);
  const weights = s.op('Softmax', [scores], { axis: attr.int(-1) });
  const merged = mergeHeads(s, s.op('MatMul', [weights, v4]), batch, shape.heads, shape.headDim);
  return linear(s.child('to_out.0'), merged, inner, shape.queryDim, true);
}
