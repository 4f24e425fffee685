/**
 * Thin QR of a tall matrix by classical Gram-Schmidt applied twice ("CGS2"), which keeps Q
 * orthogonal to rounding level for the few (<= a few hundred) columns of a LoRA factor.
 */

export interface ThinQr {
  /** rows x cols, row-major; columns orthonormal, or zero where the input column was dependent. */
  readonly q: Float64Array;
  /** cols x cols upper triangular, row-major. */
  readonly r: Float64Array;
}

/** QR of `a` (rows x cols, row-major, rows >= cols not required). */
export function thinQr(a: ArrayLike<number>, rows: number, cols: number): ThinQr {
  if (a.length !== rows * cols) throw new RangeError(`thinQr: expected ${rows * cols} values, got ${a.length}`);
  // Column-major work copy: every operation below is on whole columns.
  const columns = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) columns[j * rows + i] = a[i * cols + j];
  const r = new Float64Array(cols * cols);
  for (let j = 0; j < cols; j++) {
    const cj = j * rows;
    let originalNorm = 0;
    for (let i = 0; i < rows; i++) originalNorm += columns[cj + i] * columns[cj + i];
    originalNorm = Math.sqrt(originalNorm);
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        const cp = p * rows;
        let h = 0;
        for (let i = 0; i < rows; i++) h += columns[cp + i] * columns[cj + i];
        r[p * cols + j] += h;
        for (let i = 0; i < rows; i++) columns[cj + i] -= h * columns[cp + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += columns[cj + i] * columns[cj + i];
    norm = Math.sqrt(norm);
    // What is left of a dependent column is rounding noise; keeping it would add a spurious direction.
    if (norm <= originalNorm * 1e-12 || norm === 0) {
      columns.fill(0, cj, cj + rows);
      r[j * cols + j] = 0;
    } else {
      for (let i = 0; i < rows; i++) columns[cj + i] /= norm;
      r[j * cols + j] = norm;
    }
  }
  const q = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) q[i * cols + j] = columns[j * rows + i];
  return { q, r };
}
