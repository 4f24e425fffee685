/**
 * Cholesky factorization A = L L^T of a symmetric positive definite matrix (float64, row-major)
 * and the solves built on it. The closed-form edit never forms A^-1: every use of A^-1 is a pair
 * of triangular solves against L.
 */

import { dot } from './dot.ts';

/** A is not positive definite (a pivot vanished or went negative): the regularizer is too small. */
export class NotPositiveDefiniteError extends Error {
  override readonly name = 'NotPositiveDefiniteError';
  constructor(
    readonly pivotIndex: number,
    readonly pivotValue: number,
  ) {
    super(`matrix is not positive definite: pivot ${pivotIndex} is ${pivotValue}`);
  }
}

/** A factored SPD matrix: `lower` is L, `upper` is L^T (both n x n row-major, kept so both solves read rows). */
export interface CholeskyFactor {
  readonly size: number;
  readonly lower: Float64Array;
  readonly upper: Float64Array;
}

/**
 * Factors the symmetric matrix `a` (n x n row-major; only the lower triangle is read).
 * The row-oriented (dot-product) form keeps both inner-loop operands contiguous rows of L.
 */
export function choleskyFactor(a: Float64Array, size: number): CholeskyFactor {
  if (a.length !== size * size) throw new RangeError(`choleskyFactor: expected ${size * size} values, got ${a.length}`);
  const lower = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    const rowI = i * size;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * size;
      const sum = a[rowI + j] - dot(lower, rowI, lower, rowJ, j);
      if (i === j) {
        // A pivot this far below its diagonal entry is rounding noise: A is numerically singular.
        if (!(sum > Math.abs(a[rowI + i]) * 1e-14) || !Number.isFinite(sum)) throw new NotPositiveDefiniteError(i, sum);
        lower[rowI + i] = Math.sqrt(sum);
      } else {
        lower[rowI + j] = sum / lower[rowJ + j];
      }
    }
  }
  const upper = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j <= i; j++) upper[j * size + i] = lower[i * size + j];
  return { size, lower, upper };
}

/**
 * Replaces each of the `count` rows r of `rows` (count x n row-major) by r A^-1
 * (equivalently A^-1 r, A being symmetric): forward solve with L, back solve with L^T.
 */
export function solveRowsInPlace(factor: CholeskyFactor, rows: Float64Array, count: number): void {
  const n = factor.size;
  if (rows.length < count * n) throw new RangeError(`solveRowsInPlace: expected ${count * n} values, got ${rows.length}`);
  const { lower, upper } = factor;
  for (let r = 0; r < count; r++) {
    const base = r * n;
    // L z = r
    for (let j = 0; j < n; j++) {
      const rowJ = j * n;
      rows[base + j] = (rows[base + j] - dot(lower, rowJ, rows, base, j)) / lower[rowJ + j];
    }
    // L^T x = z
    for (let k = n - 1; k >= 0; k--) {
      const rowK = k * n;
      rows[base + k] = (rows[base + k] - dot(upper, rowK + k + 1, rows, base + k + 1, n - k - 1)) / upper[rowK + k];
    }
  }
}

/**
 * max / min of the squared pivots L_ii^2: a cheap lower bound of cond(A) (each pivot lies between
 * A's smallest and largest eigenvalue). Rounding in a Cholesky solve grows like cond(A) eps.
 */
export function pivotConditionEstimate(factor: CholeskyFactor): number {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < factor.size; i++) {
    const pivot = factor.lower[i * factor.size + i] ** 2;
    min = Math.min(min, pivot);
    max = Math.max(max, pivot);
  }
  return factor.size === 0 ? 1 : max / min;
}
