/**
 * The randomized SVD of randomized-svd.ts with its large products on the GPU: A is uploaded
 * once (float32) and every A @ X / A^T @ X of the range finder is our matmul kernel; the thin
 * QRs and the small SVD stay on the CPU in float64 (rows x l, l ~ rank + 8). Float32 products
 * only perturb the subspace found (the sketch is random anyway); the reported error is still
 * measured in float64 against A on the CPU.
 */
import type { GpuContext } from '../../gpu/context.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { InputError } from '../../util/errors.ts';
import {
  checkMatrix,
  factorsOf,
  oversampleOf,
  sketchSteps,
  startSearch,
  zeroSketch,
  type DenseMatrix,
  type LowRankApproximation,
  type LowRankSearchOptions,
  type RandomizedSvdOptions,
  type SketchSvd,
} from './randomized-svd.ts';

export async function randomizedSvdGpu(ctx: GpuContext, a: DenseMatrix, rank: number, options: RandomizedSvdOptions = {}): Promise<LowRankApproximation> {
  const { rows, cols } = checkMatrix(a);
  const minDim = Math.min(rows, cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > minDim) throw new InputError(`randomizedSvdGpu: rank: expected an integer in [1, ${minDim}], got ${rank}`);
  const matrix = ctx.upload(Float32Array.from(a.data), [rows, cols]);
  try {
    const sketch = await sketchOnGpu(ctx, matrix, Math.min(minDim, rank + oversampleOf(options)), options);
    return factorsOf(Float64Array.from(a.data), rows, cols, sketch, rank);
  } finally {
    matrix.release();
  }
}

/** lowRankWithin with the products on the GPU. */
export async function lowRankWithinGpu(ctx: GpuContext, a: DenseMatrix, tolerance: number, options: LowRankSearchOptions = {}): Promise<LowRankApproximation | null> {
  const search = startSearch(a, tolerance, options);
  if (search.zero) return factorsOf(search.work, search.rows, search.cols, zeroSketch(search.rows, search.cols), 1);
  const matrix = ctx.upload(Float32Array.from(a.data), [search.rows, search.cols]);
  try {
    for (const width of search.widths) {
      const result = search.accept(await sketchOnGpu(ctx, matrix, width, options));
      if (result) return result;
    }
    return null;
  } finally {
    matrix.release();
  }
}

async function sketchOnGpu(ctx: GpuContext, a: GpuTensor, width: number, options: RandomizedSvdOptions): Promise<SketchSvd> {
  const [rows, cols] = a.shape;
  const steps = sketchSteps(rows, cols, width, options);
  let step = steps.next();
  while (!step.done) {
    const { x, transpose } = step.value;
    const operand = ctx.upload(x, [transpose ? rows : cols, width]);
    const product = matmul(ctx, a, operand, { transposeA: transpose });
    try {
      step = steps.next(Float64Array.from(await ctx.read(product)));
    } finally {
      operand.release();
      product.release();
    }
  }
  return step.value;
}
