/**
 * Gram products of the stacked constraint vectors (rows of an n x d matrix R = C^T), the one
 * expensive step of either closed-form solver.
 */
import { dot } from './dot.ts';

/**
 * K = R R^T (n x n, row-major, both triangles filled) for R = `rows` (n x d): K[i][j] = c_i . c_j.
 * Rows are contiguous, so every dot product streams two rows.
 */
export function rowGram(rows: Float64Array, n: number, d: number): Float64Array {
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const value = dot(rows, i * d, rows, j * d, d);
      k[i * n + j] = value;
      k[j * n + i] = value;
    }
  }
  return k;
}

/**
 * The lower triangle of lambda I + R^T S R (d x d, row-major) for R = `rows` (n x d), S = diag(scales):
 * A[i][j] = lambda [i = j] + sum_k s_k c_k[i] c_k[j]. The upper triangle is left 0.
 */
export function scaledColumnGram(rows: Float64Array, scales: Float64Array, n: number, d: number, lambda: number): Float64Array {
  // Column i of R as a contiguous row, once plain and once scaled, so the inner loop is a dot.
  const columns = new Float64Array(d * n);
  const scaledColumns = new Float64Array(d * n);
  for (let k = 0; k < n; k++) {
    const s = scales[k];
    for (let i = 0; i < d; i++) {
      const value = rows[k * d + i];
      columns[i * n + k] = value;
      scaledColumns[i * n + k] = s * value;
    }
  }
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) a[i * d + j] = dot(scaledColumns, i * n, columns, j * n, n);
    a[i * d + i] += lambda;
  }
  return a;
}
