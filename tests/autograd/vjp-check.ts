/**
 * Checks a VJP rule against central finite differences of a float64 CPU forward:
 * L(inputs) = sum_k <forward_k(inputs), dy_k> with fixed random dy_k, so dL/dx is exactly
 * what the rule computes from dy. Inputs are rounded to f32 first, so the GPU and the CPU
 * differentiate the same function at the same point.
 */
import type { GpuContext } from '../../src/gpu/context.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { opOf } from '../../src/autograd/ops/index.ts';
import type { GraphNode } from '../../src/autograd/ops/op.ts';
import { maxRelError, randn, roundToFloat32 } from '../support/reference.ts';

export interface Operand {
  data: ArrayLike<number>;
  shape: number[];
  /** Differentiate with respect to this operand. */
  grad?: boolean;
  /** Upload as i32 (Where's condition). */
  int?: boolean;
}

export interface Tensor64 {
  data: Float64Array;
  shape: number[];
}

export interface VjpCase {
  node: Partial<GraphNode> & { opType: string };
  operands: (Operand | null)[];
  forward: (inputs: Float64Array[]) => Tensor64[];
  /** Tensors the op's forward saves (computed by the test). */
  saved?: (ctx: GpuContext, inputs: GpuTensor[]) => GpuTensor[];
  /** Upload these instead of the float64 outputs (e.g. the GPU forward's own). */
  gpuOutputs?: (ctx: GpuContext, inputs: GpuTensor[]) => GpuTensor[];
}

export interface VjpReport {
  /** Per differentiated operand: max |gpu - fd| / max |fd|. */
  errors: number[];
  scales: number[];
}

export function node(opType: string, attributes: Record<string, unknown> = {}, inputs = 2, outputs = 1): GraphNode {
  return { opType, name: `test_${opType}`, inputs: Array.from({ length: inputs }, (_, i) => `in${i}`), outputs: Array.from({ length: outputs }, (_, i) => `out${i}`), attributes };
}

export async function checkVjp(ctx: GpuContext, c: VjpCase, seed = 1): Promise<VjpReport> {
  const operands = c.operands.map((o) => (o ? { ...o, data: o.int ? Float64Array.from(o.data) : roundToFloat32(o.data) } : null));
  const values = operands.map((o) => o?.data ?? new Float64Array(0));
  const outputs = c.forward(values);
  const dys = outputs.map((o, k) => roundToFloat32(randn(o.data.length, seed * 100 + k)));
  const loss = (inputs: Float64Array[]): number =>
    c.forward(inputs).reduce((acc, o, k) => acc + o.data.reduce((s, value, i) => s + value * dys[k][i], 0), 0);

  const gpuInputs = operands.map((o) => (o ? (o.int ? ctx.uploadInt32(Int32Array.from(o.data), o.shape) : ctx.upload(o.data, o.shape)) : null));
  const present = gpuInputs.filter((t): t is GpuTensor => t !== null);
  const gpuOutputs = c.gpuOutputs ? c.gpuOutputs(ctx, present) : outputs.map((o) => ctx.upload(o.data, o.shape));
  const gradOutputs = outputs.map((o, k) => ctx.upload(dys[k], o.shape));
  const rule = opOf(c.node.opType);
  if (!rule?.backward) throw new Error(`no rule for ${c.node.opType}`);
  const fullNode: GraphNode = { ...node(c.node.opType, {}, operands.length, outputs.length), ...c.node };
  const grads = rule.backward(
    {
      ctx,
      node: fullNode,
      inputs: gpuInputs,
      outputs: gpuOutputs,
      saved: c.saved?.(ctx, present),
      needs: operands.map((o) => Boolean(o?.grad)),
      constant: () => undefined,
    },
    gradOutputs,
  );
  const errors: number[] = [];
  const scales: number[] = [];
  for (let i = 0; i < operands.length; i++) {
    const o = operands[i];
    if (!o?.grad) {
      if (grads[i]) throw new Error(`rule returned a gradient for operand ${i}, which was not requested`);
      continue;
    }
    const g = grads[i];
    if (!g) throw new Error(`rule returned no gradient for operand ${i}`);
    if (g.size !== o.data.length) throw new Error(`gradient ${i} has ${g.size} elements, operand ${o.data.length}`);
    const got = await ctx.read(g);
    const fd = new Float64Array(o.data.length);
    for (let j = 0; j < o.data.length; j++) {
      const h = 1e-4 * Math.max(1, Math.abs(o.data[j]));
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      fd[j] = (loss(plus) - loss(minus)) / (2 * h);
    }
    errors.push(maxRelError(got, fd));
    scales.push(fd.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
    g.release();
  }
  for (const t of [...present, ...gpuOutputs, ...gradOutputs]) t.release();
  return { errors, scales };
}
