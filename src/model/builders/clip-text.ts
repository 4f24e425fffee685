/**
 * CLIPTextModel as optimum exports it for Stable Diffusion:
 * input_ids int32 [B, S] -> last_hidden_state [B, S, d], pooler_output [B, d].
 * Pre-norm encoder layers with a causal mask, final_layer_norm. SD 2.x's text encoder config
 * already has the last layer dropped (23 of OpenCLIP's 24), so its last_hidden_state is the
 * penultimate layer the pipeline wants; the forge mirrors that by config, not by graph surgery.
 */
import { TensorDataType } from '../../formats/onnx/types.ts';
import { attr, GraphBuilder, type GraphDtype, type Scope } from './graph-builder.ts';
import { dimension, gelu, layerNorm, linear, mergeHeads, quickGelu, shapeOf, splitHeads } from './layers.ts';
import { renameLastOutput } from './unet.ts';

export interface ClipTextShape {
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
  activation: 'quick_gelu' | 'gelu';
  projectionDim: number;
  bosTokenId: number;
  eosTokenId: number;
  /** layer_norm_eps (CLIP: 1e-5). */
  layerNormEps?: number;
}

export function buildClipText(shape: ClipTextShape, options: { dtype: GraphDtype; opset: 14 | 17 }): GraphBuilder {
  const graph = new GraphBuilder(options.dtype, options.opset, 1200);
  const root = graph.root();
  const inputIds = graph.addInput('input_ids', TensorDataType.INT32, ['batch_size', 'sequence_length']);
  const model = root.child('text_model');
  const d = shape.hiddenSize;
  const eps = shape.layerNormEps ?? 1e-5;

  // input_ids.view(-1, input_shape[-1])
  const sequence = dimension(model, inputIds, 1);
  const ids = model.op('Reshape', [inputIds, shapeOf(model, [-1, sequence])]);

  const embeddings = model.child('embeddings');
  const positions = embeddings.op('Constant', [], {
    value: attr.tensor({
      dims: [1, shape.maxPositions],
      dataType: TensorDataType.INT64,
      rawData: new Uint8Array(BigInt64Array.from({ length: shape.maxPositions }, (_, i) => BigInt(i)).buffer),
    }),
  });
  const positionIds = embeddings.op('Slice', [
    positions,
    embeddings.int64([0]),
    embeddings.op('Unsqueeze', [sequence, embeddings.int64([0])]),
    embeddings.int64([1]),
    embeddings.int64([1]),
  ]);
  const tokenTable = embeddings.child('token_embedding').param('weight', [shape.vocabSize, d], { kind: 'normal', std: 1 });
  const positionTable = embeddings.child('position_embedding').param('weight', [shape.maxPositions, d], { kind: 'normal', std: 0.5 });
  const tokens = embeddings.child('token_embedding').op('Gather', [tokenTable, ids]);
  const placed = embeddings.child('position_embedding').op('Gather', [positionTable, positionIds]);
  let h = embeddings.op('Add', [tokens, placed]);

  const batch = dimension(model, ids, 0);
  const mask = causalMask(model, batch, sequence, graph.dtype);
  const headDim = d / shape.heads;
  for (let l = 0; l < shape.layers; l++) {
    const layer = model.child('encoder').child('layers').child(l);
    const attended = selfAttention(layer.child('self_attn'), layerNorm(layer.child('layer_norm1'), h, d, eps), mask, d, shape.heads, headDim);
    h = layer.op('Add', [h, attended]);
    const mlp = layer.child('mlp');
    const up = linear(mlp.child('fc1'), layerNorm(layer.child('layer_norm2'), h, d, eps), d, shape.intermediateSize, true);
    const activation = mlp.child('activation_fn');
    const activated = shape.activation === 'quick_gelu' ? quickGelu(activation, up) : gelu(activation, up);
    h = layer.op('Add', [h, linear(mlp.child('fc2'), activated, shape.intermediateSize, d, true)]);
  }
  const last = layerNorm(model.child('final_layer_norm'), h, d, eps);

  // last_hidden_state[arange(B), input_ids.argmax(-1)]: the EOS token has the largest id.
  const eos = model.op('ArgMax', [model.op('Cast', [ids], { to: attr.int(TensorDataType.INT32) })], { axis: attr.int(-1), keepdims: attr.int(0) });
  const rows = model.op('Range', [model.int64([0], []), batch, model.int64([1], [])]);
  const flatIndex = model.op('Add', [model.op('Mul', [rows, sequence]), eos]);
  const flat = model.op('Reshape', [last, model.int64([-1, d])]);
  const pooled = model.op('Gather', [flat, flatIndex], { axis: attr.int(0) });

  renameLastOutput(graph, last, 'last_hidden_state');
  renameLastOutput(graph, pooled, 'pooler_output');
  graph.addOutput('last_hidden_state', graph.floatType, ['batch_size', 'sequence_length', d]);
  graph.addOutput('pooler_output', graph.floatType, ['batch_size', d]);
  return graph;
}

/** [B, 1, S, S]: 0 on and below the diagonal, the dtype's most negative finite value above it. */
function causalMask(s: Scope, batch: string, sequence: string, dtype: GraphDtype): string {
  const steps = s.op('Range', [s.int64([0], []), sequence, s.int64([1], [])]);
  const future = s.op('Less', [s.op('Unsqueeze', [steps, s.int64([1])]), s.op('Unsqueeze', [steps, s.int64([0])])]);
  const lowest = dtype === 'fp16' ? -65504 : -3.4028234663852886e38;
  const square = s.op('Where', [future, s.float([lowest]), s.float([0])]);
  const expanded = s.op('Unsqueeze', [square, s.int64([0, 1])]);
  return s.op('Expand', [expanded, shapeOf(s, [batch, 1, sequence, sequence])]);
}

/** CLIPAttention: biased q/k/v/out projections, q scaled by headDim^-1/2, causal mask added before Softmax. */
function selfAttention(s: Scope, x: string, mask: string, width: number, heads: number, headDim: number): string {
  const q = s.op('Mul', [linear(s.child('q_proj'), x, width, width, true), s.float([headDim ** -0.5])]);
  const k = linear(s.child('k_proj'), x, width, width, true);
  const v = linear(s.child('v_proj'), x, width, width, true);
  const batch = dimension(s, x, 0);
  const scores = s.op('MatMul', [splitHeads(s, q, batch, heads, headDim), splitHeads(s, k, batch, heads, headDim, true)]);
  const weights = s.op('Softmax', [s.op('Add', [scores, mask])], { axis: attr.int(-1) });
  const merged = mergeHeads(s, s.op('MatMul', [weights, splitHeads(s, v, batch, heads, headDim)]), batch, heads, headDim);
  return linear(s.child('out_proj'), merged, width, width, true);
}
