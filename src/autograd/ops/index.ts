/** Every op the executor runs on the GPU, by ONNX op type (default domain). */
import { ELEMENTWISE_OPS } from './elementwise.ts';
import { LAYOUT_OPS } from './layout.ts';
import { LINEAR_OPS } from './linear.ts';
import { NORMALIZATION_OPS } from './normalization.ts';
import type { OpSpec } from './spec.ts';

export const GPU_OPS: Readonly<Record<string, OpSpec>> = { ...ELEMENTWISE_OPS, ...LINEAR_OPS, ...NORMALIZATION_OPS, ...LAYOUT_OPS };

export function gpuOp(opType: string): OpSpec | undefined {
  return Object.hasOwn(GPU_OPS, opType) ? GPU_OPS[opType] : undefined;
}

export type { OpSpec, PrepareArgs, Prepared } from './spec.ts';
