import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import wgsl from './matmul.wgsl?raw';

const kernel: KernelSource = { name: 'matmul', wgsl };
const TILE = 64;

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  alpha?: number;
  /** Write into this tensor instead of a new one. */
  out?: GpuTensor;
}

/**
 * Batched matrix product over the last two axes: [..., M, K] x [..., K, N] -> [..., M, N].
 * Leading (batch) axes must match, or one side may have none / a batch of 1 (broadcast).
 */
export function matmul(ctx: GpuContext, a: GpuTensor, b: GpuTensor, options: MatmulOptions = {}): GpuTensor {
  if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError(`matmul: operands need rank >= 2, got [${a.shape}] and [${b.shape}]`);
  if (a.dtype !== b.dtype || (a.dtype !== 'f32' && a.dtype !== 'f16')) throw new ShapeError(`matmul: operands must share a float dtype, got ${a.dtype} and ${b.dtype}`);
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [m, k] = options.transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kb, n] = options.transposeB ? [bCols, bRows] : [bRows, bCols];
  if (k !== kb) throw new ShapeError(`matmul: inner dimensions differ: [${a.shape}]${options.transposeA ? 'ᵀ' : ''} x [${b.shape}]${options.transposeB ? 'ᵀ' : ''}`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const countA = product(batchA);
  const countB = product(batchB);
  const batchShape = countA >= countB ? batchA : batchB;
  const batch = Math.max(countA, countB);
  if (countA !== countB && countA !== 1 && countB !== 1) throw new ShapeError(`matmul: batch shapes [${batchA}] and [${batchB}] do not broadcast`);
  if (countA === countB && batchA.join() !== batchB.join() && batchA.length && batchB.length) throw new ShapeError(`matmul: batch shapes [${batchA}] and [${batchB}] differ`);
  const outShape = [...batchShape, m, n];
  const out = options.out ?? ctx.empty(outShape, a.dtype);
  if (out.size !== batch * m * n || out.dtype !== a.dtype) throw new ShapeError(`matmul: out tensor [${out.shape}] ${out.dtype} does not fit [${outShape}] ${a.dtype}`);
  const uniforms = new Uniforms()
    .u32(m)
    .u32(n)
    .u32(k)
    .u32(countA === 1 ? 0 : m * k)
    .u32(countB === 1 ? 0 : k * n)
    .u32(m * n)
    .u32(options.transposeA ? 1 : 0)
    .u32(options.transposeB ? 1 : 0)
    .f32(options.alpha ?? 1)
    .finish();
  ctx.dispatch({ kernel, dtype: a.dtype, tensors: [a, b, out], uniforms, workgroups: [Math.ceil(n / TILE), Math.ceil(m / TILE), batch] });
  return out;
}

function product(dims: readonly number[]): number {
  return dims.reduce((acc, d) => acc * d, 1);
}
