/** The VJP table: one rule per ONNX op type the piece graphs use (see the rule files). */
import { fusedAttention, FUSED_ATTENTION_OP } from './attention.ts';
import { conv } from './conv.ts';
import { add, cos, div, erf, exp, expand, identity, mul, pow, sigmoid, sin, sqrt, sub, whereRule } from './elementwise.ts';
import { lora, LORA_OP } from './lora.ts';
import { gemm, matmul } from './matmul.ts';
import { instanceNormalization, layerNormalization } from './normalization.ts';
import { reduceMean } from './reduce-mean.ts';
import { concat, reshape, resize, slice, split, transpose } from './shape.ts';
import { softmax } from './softmax.ts';
import type { OpRule } from './types.ts';

export const VJP_RULES: Readonly<Record<string, OpRule>> = {
  MatMul: matmul,
  Gemm: gemm,
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  Sqrt: sqrt,
  Erf: erf,
  Sigmoid: sigmoid,
  Exp: exp,
  Sin: sin,
  Cos: cos,
  Cast: identity,
  Identity: identity,
  Where: whereRule,
  Expand: expand,
  Softmax: softmax,
  InstanceNormalization: instanceNormalization,
  LayerNormalization: layerNormalization,
  ReduceMean: reduceMean,
  Concat: concat,
  Slice: slice,
  Split: split,
  Reshape: reshape,
  Flatten: reshape,
  Squeeze: reshape,
  Unsqueeze: reshape,
  Transpose: transpose,
  Resize: resize,
  Conv: conv,
  [FUSED_ATTENTION_OP]: fusedAttention,
  [LORA_OP]: lora,
};

export function vjpRule(opType: string): OpRule | undefined {
  return Object.hasOwn(VJP_RULES, opType) ? VJP_RULES[opType] : undefined;
}

export type { GraphNode, OpRule, VjpContext, VjpRule } from './types.ts';
