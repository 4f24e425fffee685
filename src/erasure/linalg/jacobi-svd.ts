/**
 * SVD of a small dense matrix by one-sided (Hestenes) Jacobi rotations: accurate to rounding
 * for the tiny rank x rank cores of LoRA truncation, and short enough to read in one sitting.
 */

export interface SmallSvd {
  /** rows x cols row-major; column k is the left singular vector of values[k] (zero when values[k] is 0). */
  readonly u: Float64Array;
  /** Singular values, descending. */
  readonly values: Float64Array;
  /** cols x cols row-major; column k is the right singular vector of values[k]. */
  readonly v: Float64Array;
}

const MAX_SWEEPS = 60;

/** a (rows x cols, row-major) = U diag(values) V^T. */
export function jacobiSvd(a: ArrayLike<number>, rows: number, cols: number): SmallSvd {
  if (a.length !== rows * cols) throw new RangeError(`jacobiSvd: expected ${rows * cols} values, got ${a.length}`);
  // Column-major copies: rotations act on pairs of columns.
  const w = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[j * rows + i] = a[i * cols + j];
  const v = new Float64Array(cols * cols);
  for (let j = 0; j < cols; j++) v[j * cols + j] = 1;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const cp = p * rows;
        const cq = q * rows;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          alpha += w[cp + i] * w[cp + i];
          beta += w[cq + i] * w[cq + i];
          gamma += w[cp + i] * w[cq + i];
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const x = w[cp + i];
          const y = w[cq + i];
          w[cp + i] = c * x - s * y;
          w[cq + i] = s * x + c * y;
        }
        for (let i = 0; i < cols; i++) {
          const x = v[i * cols + p];
          const y = v[i * cols + q];
          v[i * cols + p] = c * x - s * y;
          v[i * cols + q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }

  const norms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += w[j * rows + i] * w[j * rows + i];
    norms[j] = Math.sqrt(sum);
  }
  const order = Array.from({ length: cols }, (_, j) => j).sort((x, y) => norms[y] - norms[x]);
  const u = new Float64Array(rows * cols);
  const values = new Float64Array(cols);
  const vSorted = new Float64Array(cols * cols);
  order.forEach((source, k) => {
    const sigma = norms[source];
    values[k] = sigma;
    if (sigma > 0) for (let i = 0; i < rows; i++) u[i * cols + k] = w[source * rows + i] / sigma;
    for (let i = 0; i < cols; i++) vSorted[i * cols + k] = v[i * cols + source];
  });
  return { u, values, v: vSorted };
}
