/**
 * An exact reference for the closed-form solve: with dyadic inputs (every value k / 2^q), A and
 * C_e are exact rationals, so A X = C_e is solved exactly in BigInt by fraction-free
 * Gauss-Jordan elimination (Bareiss) and only the final X is rounded to float64. No float
 * rounding and no conditioning enters the reference, which is what a 1e-8 check at
 * lambda = 2^-40 needs (a float64 reference would itself be off by cond(A) eps there).
 */

/** The exact rational x = num / den as the nearest-ish float64 (error below 2^-60 relative). */
export function rationalToNumber(num: bigint, den: bigint): number {
  if (num === 0n) return 0;
  const negative = (num < 0n) !== (den < 0n);
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  // Shift so the integer quotient has ~64 significant bits, then scale back.
  const shift = 64 - (n.toString(2).length - d.toString(2).length);
  const quotient = shift >= 0 ? (n << BigInt(shift)) / d : n / (d << BigInt(-shift));
  const value = Number(quotient) * 2 ** -shift;
  return negative ? -value : value;
}

/** A dyadic float64 (exactly k / 2^bits) as the integer k; throws when it is not. */
export function toScaledInteger(value: number, bits: number): bigint {
  const scaled = value * 2 ** bits;
  if (!Number.isInteger(scaled)) throw new Error(`exact reference: ${value} is not a multiple of 2^-${bits}`);
  return BigInt(scaled);
}

/**
 * X = A^-1 B exactly, for A (n x n) and B (n x m) given as integer matrices (row-major BigInt).
 * Fraction-free Gauss-Jordan: after step k every entry is a k x k minor, so each division is
 * exact; at the end the A block is det(A) I and the B block det(A) X. The result is checked
 * (A X = B) before it is returned.
 */
export function solveExact(a: bigint[], b: bigint[], n: number, m: number): number[] {
  const width = n + m;
  const w: bigint[] = new Array(n * width);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) w[i * width + j] = a[i * n + j];
    for (let j = 0; j < m; j++) w[i * width + n + j] = b[i * m + j];
  }
  let previous = 1n;
  for (let k = 0; k < n; k++) {
    let pivotRow = k;
    while (pivotRow < n && w[pivotRow * width + k] === 0n) pivotRow++;
    if (pivotRow === n) throw new Error('exact reference: singular');
    if (pivotRow !== k)
      for (let j = 0; j < width; j++) [w[k * width + j], w[pivotRow * width + j]] = [w[pivotRow * width + j], w[k * width + j]];
    const pivot = w[k * width + k];
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const factor = w[i * width + k];
      for (let j = 0; j < width; j++) {
        if (j === k) continue;
        const value = pivot * w[i * width + j] - factor * w[k * width + j];
        if (value % previous !== 0n) throw new Error('exact reference: inexact Bareiss division');
        w[i * width + j] = value / previous;
      }
      w[i * width + k] = 0n;
    }
    previous = pivot;
  }
  const det = previous;
  // Every diagonal entry is now det(A); check A (num / det) = B before trusting it.
  for (let i = 0; i < n; i++) if (w[i * width + i] !== det) throw new Error('exact reference: diagonal is not det(A)');
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let sum = 0n;
      for (let k = 0; k < n; k++) sum += a[i * n + k] * w[k * width + n + j];
      if (sum !== det * b[i * m + j]) throw new Error('exact reference: A X != B');
    }
  const x: number[] = new Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) x[i * m + j] = rationalToNumber(w[i * width + n + j], det);
  return x;
}

/**
 * V^T = C_e^T A^-1 exactly, A = lambda I + sum_k s_k c_k c_k^T, for dyadic vectors (multiples of
 * 2^-vectorBits), scales and lambda (multiples of 2^-scalarBits). Rows of the result: n_e x d.
 */
export function exactEditRows(
  d: number,
  lambda: number,
  vectors: readonly ArrayLike<number>[],
  scales: readonly number[],
  nErase: number,
  vectorBits: number,
  scalarBits: number,
): number[] {
  const c = vectors.map((v) => Array.from(v, (x) => toScaledInteger(x, vectorBits)));
  const s = scales.map((x) => toScaledInteger(x, scalarBits));
  const scale = 2 * vectorBits + scalarBits; // A * 2^scale is integral
  const a: bigint[] = new Array(d * d).fill(0n);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let sum = 0n;
      for (let k = 0; k < c.length; k++) sum += s[k] * c[k][i] * c[k][j];
      a[i * d + j] = sum;
    }
  const lambdaScaled = toScaledInteger(lambda, scale);
  for (let i = 0; i < d; i++) a[i * d + i] += lambdaScaled;
  // A X = C_e  <=>  (A 2^scale) X = C_e 2^scale = c_int 2^(scale - vectorBits).
  const b: bigint[] = new Array(d * nErase);
  const lift = 1n << BigInt(scale - vectorBits);
  for (let i = 0; i < d; i++) for (let k = 0; k < nErase; k++) b[i * nErase + k] = c[k][i] * lift;
  const x = solveExact(a, b, d, nErase);
  const vt: number[] = new Array(nErase * d);
  for (let k = 0; k < nErase; k++) for (let i = 0; i < d; i++) vt[k * d + i] = x[i * nErase + k];
  return vt;
}
