/** Float64 CPU references for kernel tests: straightforward loops, no tricks. */
import { SeededRandom } from '../../src/util/random.ts';

export function randn(length: number, seed: number, scale = 1): Float64Array {
  return new SeededRandom(seed).normalArray64(length, scale);
}

/** C[b] = op(A[b]) @ op(B[b]) with op = optional transpose; batch of 1 broadcasts. */
export function matmulF64(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: { batch: number; m: number; n: number; k: number; batchA?: number; batchB?: number; transposeA?: boolean; transposeB?: boolean },
): Float64Array {
  const { batch, m, n, k } = dims;
  const out = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const offA = (dims.batchA === 1 ? 0 : bi) * m * k;
    const offB = (dims.batchB === 1 ? 0 : bi) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const av = dims.transposeA ? a[offA + p * m + i] : a[offA + i * k + p];
          const bv = dims.transposeB ? b[offB + j * k + p] : b[offB + p * n + j];
          sum += av * bv;
        }
        out[bi * m * n + i * n + j] = sum;
      }
    }
  }
  return out;
}

/** max |got - want| / max(max |want|, tiny): error relative to the output's scale. */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let maxDiff = 0;
  let maxRef = 1e-30;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    if (!(diff <= maxDiff)) maxDiff = Number.isNaN(diff) ? Infinity : diff;
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  return maxDiff / maxRef;
}

export function roundToHalf(values: ArrayLike<number>): Float64Array {
  const f32 = new Float32Array(values.length);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) f32[i] = values[i];
  // Round through the same conversion the upload uses, so the reference sees the stored values.
  for (let i = 0; i < values.length; i++) out[i] = halfRound(f32[i]);
  return out;
}

import { float32ToHalfBits, halfBitsToFloat32 } from '../../src/util/half.ts';
function halfRound(value: number): number {
  return halfBitsToFloat32(float32ToHalfBits(value));
}
