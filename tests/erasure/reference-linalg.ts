/**
 * Straightforward float64 references for the erasure tests, written independently of
 * src/erasure/linalg: Gauss-Jordan inversion with partial pivoting, plain triple-loop products,
 * and cyclic Jacobi eigenvalues of a symmetric matrix.
 */

/** Row-major dense matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

export function identity(n: number): Matrix {
  const m = matrix(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`multiply: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let k = 0; k < a.cols; k++) sum += a.data[i * a.cols + k] * b.data[k * b.cols + j];
      out.data[i * b.cols + j] = sum;
    }
  return out;
}

export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  return out;
}

export function subtract(a: Matrix, b: Matrix): Matrix {
  return matrix(a.rows, a.cols, a.data.map((value, i) => value - b.data[i]));
}

/** sum_k s_k x_k y_k^T plus lambda I. */
export function sumOfOuterProducts(n: number, lambda: number, terms: ReadonlyArray<{ x: ArrayLike<number>; y: ArrayLike<number>; s: number }>): Matrix {
  const out = identity(n);
  for (let i = 0; i < n * n; i++) out.data[i] *= lambda;
  for (const { x, y, s } of terms) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.data[i * n + j] += s * x[i] * y[j];
  return out;
}

/** Inverse by Gauss-Jordan elimination with partial pivoting. */
export function invert(a: Matrix): Matrix {
  const n = a.rows;
  const work = Float64Array.from(a.data);
  const inverse = identity(n).data;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(work[r * n + col]) > Math.abs(work[pivot * n + col])) pivot = r;
    if (work[pivot * n + col] === 0) throw new Error('invert: singular');
    if (pivot !== col)
      for (let j = 0; j < n; j++) {
        [work[col * n + j], work[pivot * n + j]] = [work[pivot * n + j], work[col * n + j]];
        [inverse[col * n + j], inverse[pivot * n + j]] = [inverse[pivot * n + j], inverse[col * n + j]];
      }
    const p = work[col * n + col];
    for (let j = 0; j < n; j++) {
      work[col * n + j] /= p;
      inverse[col * n + j] /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = work[r * n + col];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        work[r * n + j] -= f * work[col * n + j];
        inverse[r * n + j] -= f * inverse[col * n + j];
      }
    }
  }
  return { rows: n, cols: n, data: inverse };
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations, descending. */
export function symmetricEigenvalues(a: Matrix): number[] {
  const n = a.rows;
  const w = Float64Array.from(a.data);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += w[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = w[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (w[q * n + q] - w[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = w[k * n + p];
          const akq = w[k * n + q];
          w[k * n + p] = c * akp - s * akq;
          w[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = w[p * n + k];
          const aqk = w[q * n + k];
          w[p * n + k] = c * apk - s * aqk;
          w[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  return Array.from({ length: n }, (_, i) => w[i * n + i]).sort((x, y) => y - x);
}

export function frobenius(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** max |got - want| / max |want|. */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    error = Math.max(error, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return error / scale;
}

/** W v for W (out x d, row-major). */
export function applyToVector(w: ArrayLike<number>, out: number, d: number, v: ArrayLike<number>): Float64Array {
  const result = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += w[o * d + j] * v[j];
    result[o] = sum;
  }
  return result;
}
