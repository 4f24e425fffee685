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

/** The values an f32 upload stores, as float64 (references must see what the GPU sees). */
export function roundToFloat32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** Uniform values in [low, high), seeded. */
export function uniformArray(length: number, seed: number, low: number, high: number): Float64Array {
  const random = new SeededRandom(seed);
  return Float64Array.from({ length }, () => random.uniformIn(low, high));
}

/** Numpy broadcasting of several operands: f applied per output element. */
export function broadcastMapF64(
  operands: { data: ArrayLike<number>; shape: readonly number[] }[],
  f: (...values: number[]) => number,
): { data: Float64Array; shape: number[] } {
  const rank = Math.max(...operands.map((o) => o.shape.length));
  const shape: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const dims = operands.map((o) => o.shape[o.shape.length - rank + axis] ?? 1);
    const size = Math.max(...dims);
    if (dims.some((d) => d !== 1 && d !== size)) throw new Error(`shapes do not broadcast at axis ${axis}`);
    shape.push(size);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(count);
  const coords = new Array<number>(rank).fill(0);
  for (let i = 0; i < count; i++) {
    let rest = i;
    for (let axis = rank - 1; axis >= 0; axis--) {
      coords[axis] = rest % shape[axis];
      rest = Math.floor(rest / shape[axis]);
    }
    const values = operands.map((o) => {
      let index = 0;
      for (let axis = 0; axis < o.shape.length; axis++) {
        const dim = o.shape[axis];
        index = index * dim + (dim === 1 ? 0 : coords[rank - o.shape.length + axis]);
      }
      return o.data[index];
    });
    data[i] = f(...values);
  }
  return { data, shape };
}

/**
 * erf in float64: (2/sqrt(pi)) exp(-x^2) sum_n (2x^2)^n x / (2n+1)!!, a series of positive
 * terms (no cancellation) that converges for every x; beyond |x| = 6 erf is 1 in float64.
 */
export function erfF64(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** Reduction over axes [first, last] of a row-major tensor (keepdims layout is the same). */
export function reduceF64(x: ArrayLike<number>, shape: readonly number[], first: number, last: number, op: 'sum' | 'mean' | 'max' | 'min' | 'sumSquares'): Float64Array {
  const outer = shape.slice(0, first).reduce((a, b) => a * b, 1);
  const n = shape.slice(first, last + 1).reduce((a, b) => a * b, 1);
  const inner = shape.slice(last + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const values = Array.from({ length: n }, (_, j) => x[(o * n + j) * inner + q]);
      let result: number;
      if (op === 'max') result = Math.max(...values);
      else if (op === 'min') result = Math.min(...values);
      else if (op === 'sumSquares') result = values.reduce((acc, v) => acc + v * v, 0);
      else result = values.reduce((acc, v) => acc + v, 0) / (op === 'mean' ? n : 1);
      out[o * inner + q] = result;
    }
  }
  return out;
}

export function softmaxF64(x: ArrayLike<number>, shape: readonly number[], axis: number): Float64Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const at = (j: number): number => (o * n + j) * inner + q;
      let max = -Infinity;
      for (let j = 0; j < n; j++) max = Math.max(max, x[at(j)]);
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(x[at(j)] - max);
      for (let j = 0; j < n; j++) out[at(j)] = Math.exp(x[at(j)] - max) / sum;
    }
  }
  return out;
}

/** ONNX LayerNormalization over axes [axis, rank); gamma/beta over those axes. */
export function layerNormF64(x: ArrayLike<number>, shape: readonly number[], axis: number, epsilon: number, gamma?: ArrayLike<number>, beta?: ArrayLike<number>): Float64Array {
  const rows = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape.slice(axis).reduce((a, b) => a * b, 1);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x[r * n + j];
    mean /= n;
    let variance = 0;
    for (let j = 0; j < n; j++) variance += (x[r * n + j] - mean) ** 2;
    variance /= n;
    const inv = 1 / Math.sqrt(variance + epsilon);
    for (let j = 0; j < n; j++) out[r * n + j] = (x[r * n + j] - mean) * inv * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
  }
  return out;
}

/** torch.nn.GroupNorm on [N, C, ...spatial] with per-channel gamma/beta. */
export function groupNormF64(x: ArrayLike<number>, shape: readonly number[], groups: number, epsilon: number, gamma?: ArrayLike<number>, beta?: ArrayLike<number>): Float64Array {
  const [batch, channels] = shape;
  const spatial = shape.slice(2).reduce((a, b) => a * b, 1);
  const perGroup = channels / groups;
  const out = new Float64Array(batch * channels * spatial);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      const indices: number[] = [];
      for (let c = g * perGroup; c < (g + 1) * perGroup; c++) for (let s = 0; s < spatial; s++) indices.push((b * channels + c) * spatial + s);
      const mean = indices.reduce((acc, i) => acc + x[i], 0) / indices.length;
      const variance = indices.reduce((acc, i) => acc + (x[i] - mean) ** 2, 0) / indices.length;
      const inv = 1 / Math.sqrt(variance + epsilon);
      for (const i of indices) {
        const c = Math.floor(i / spatial) % channels;
        out[i] = (x[i] - mean) * inv * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
      }
    }
  }
  return out;
}
