/**
 * The op registry: every op the executor runs, by ONNX op type (default domain) or by the name
 * of a fused op Lethe adds (LetheAttention, LetheLora). One entry per op holds its load-time
 * preparation, its forward and its backward (op.ts).
 */
import { ATTENTION_OPS } from './attention.ts';
import { ELEMENTWISE_OPS } from './elementwise.ts';
import { LAYOUT_OPS } from './layout.ts';
import { LINEAR_OPS } from './linear.ts';
import { LORA_OPS } from './lora.ts';
import { NORMALIZATION_OPS } from './normalization.ts';
import type { Op } from './op.ts';

export const OPS: Readonly<Record<string, Op>> = { ...ELEMENTWISE_OPS, ...LINEAR_OPS, ...NORMALIZATION_OPS, ...LAYOUT_OPS, ...ATTENTION_OPS, ...LORA_OPS };

export function opOf(opType: string): Op | undefined {
  return Object.hasOwn(OPS, opType) ? OPS[opType] : undefined;
}

export type { GraphNode, Op, PrepareArgs, Prepared, VjpContext, VjpRule } from './op.ts';
