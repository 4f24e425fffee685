/**
 * Randomized truncated SVD (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1) of a dense
 * matrix, in float64 on the CPU, for deltas that do not come as factors: a `.diff` full
 * difference in an imported LoRA. (Deltas that are factors already, like the closed-form edit's
 * (W U) V^T or a trained LoRA, are truncated exactly by lora-truncation.ts instead.)
 *
 *   Y = A Omega (Omega: cols x l Gaussian, seeded), Q = orth(Y),
 *   q power iterations Q = orth(A orth(A^T Q)) sharpen a slowly decaying spectrum,
 *   B = Q^T A (l x cols), B = Ub S Vb^T (small), A ~ (Q Ub) S Vb^T.
 * The reported error is measured, not estimated: |A - up @ down|_F / |A|_F in float64 from the
 * float32 factors that are returned.
 */
import { InputError } from '../../util/errors.ts';
import { SeededRandom } from '../../util/random.ts';
import { thinQr } from './gram-schmidt-qr.ts';
import { jacobiSvd } from './jacobi-svd.ts';

export interface DenseMatrix {
  readonly rows: number;
  readonly cols: number;
  /** rows x cols, row-major. */
  readonly data: ArrayLike<number>;
}

export interface RandomizedSvdOptions {
  /** Extra sketch columns beyond the rank (default 8). */
  readonly oversample?: number;
  /** Power iterations (default 2). */
  readonly powerIterations?: number;
  /** SeededRandom seed of the Gaussian test matrix (default 0): the same seed gives the same bits. */
  readonly seed?: number;
}

/** A ~ up @ down with the singular values split evenly: up = U sqrt(S), down = sqrt(S) V^T. */
export interface LowRankApproximation {
  readonly rows: number;
  readonly cols: number;
  readonly rank: number;
  /** rows x rank, row-major. */
  readonly up: Float32Array;
  /** rank x cols, row-major. */
  readonly down: Float32Array;
  /** Singular values of the sketch B = Q^T A, descending (approximate those of A from below). */
  readonly singularValues: Float64Array;
  /** |A - up @ down|_F / |A|_F, measured in float64 (0 for a zero matrix). */
  readonly relativeError: number;
}

const DEFAULT_OVERSAMPLE = 8;
const DEFAULT_POWER_ITERATIONS = 2;

/** Rank-`rank` approximation of `a` by a randomized range finder and a small exact SVD. */
export function randomizedSvd(a: DenseMatrix, rank: number, options: RandomizedSvdOptions = {}): LowRankApproximation {
  const { rows, cols } = checkMatrix(a);
  const minDim = Math.min(rows, cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > minDim) throw new InputError(`randomizedSvd: rank: expected an integer in [1, ${minDim}], got ${rank}`);
  const work = Float64Array.from(a.data);
  const sketch = sketchSvd(work, rows, cols, Math.min(minDim, rank + oversampleOf(options)), options);
  return factorsOf(work, rows, cols, sketch, rank);
}

/**
 * The smallest-rank approximation whose measured relative error is <= `tolerance`, or null when
 * that needs more than `maxRank` (then a low-rank form saves nothing and the caller should keep
 * the matrix exact). The sketch grows by doubling; each try costs O(rows cols l (2q + 2)).
 */
export function lowRankWithin(a: DenseMatrix, tolerance: number, options: LowRankSearchOptions = {}): LowRankApproximation | null {
  const search = startSearch(a, tolerance, options);
  if (search.zero) return factorsOf(search.work, search.rows, search.cols, zeroSketch(search.rows, search.cols), 1);
  for (const width of search.widths) {
    const result = search.accept(sketchSvd(search.work, search.rows, search.cols, width, options));
    if (result) return result;
  }
  return null;
}

export interface LowRankSearchOptions extends RandomizedSvdOptions {
  /** Largest rank to try (default min(rows, cols)). */
  readonly maxRank?: number;
}

/** The steps of lowRankWithin that do not depend on where the products run. */
export interface LowRankSearch {
  readonly rows: number;
  readonly cols: number;
  /** A in float64. */
  readonly work: Float64Array;
  readonly zero: boolean;
  /** Sketch widths to try, growing. */
  readonly widths: number[];
  /** The factors when this sketch meets the tolerance, else null. */
  accept(sketch: SketchSvd): LowRankApproximation | null;
}

export function startSearch(a: DenseMatrix, tolerance: number, options: LowRankSearchOptions): LowRankSearch {
  const { rows, cols } = checkMatrix(a);
  if (!(tolerance > 0 && tolerance < 1)) throw new InputError(`lowRankWithin: tolerance: expected a number in (0, 1), got ${tolerance}`);
  const minDim = Math.min(rows, cols);
  const maxRank = options.maxRank ?? minDim;
  if (!Number.isInteger(maxRank) || maxRank < 1 || maxRank > minDim) throw new InputError(`lowRankWithin: maxRank: expected an integer in [1, ${minDim}], got ${maxRank}`);
  const oversample = oversampleOf(options);
  const work = Float64Array.from(a.data);
  const total = squaredNorm(work);
  // The sketch grows by doubling: each try costs O(rows cols l (2q + 2)).
  const widths: number[] = [];
  for (let target = Math.min(16, maxRank); ; target = Math.min(maxRank, target * 2)) {
    widths.push(Math.min(minDim, target + oversample));
    if (target >= maxRank) break;
  }
  return {
    rows,
    cols,
    work,
    zero: total === 0,
    widths,
    accept(sketch) {
      // Smallest rank whose error |A|^2 - sum_{i<r} s_i^2 (exact for A ~ Q B_r) meets the tolerance,
      // with a little margin for the float32 rounding of the returned factors.
      const budget = (tolerance * 0.9) ** 2 * total;
      let kept = 0;
      for (let k = 0; k < Math.min(maxRank, sketch.values.length); k++) {
        kept += sketch.values[k] ** 2;
        if (total - kept <= budget) {
          const result = factorsOf(work, rows, cols, sketch, k + 1);
          return result.relativeError <= tolerance ? result : null;
        }
      }
      return null;
    },
  };
}

/** The SVD of a sketch B = Q^T A, lifted to A's sides (exported for the GPU variant). */
export interface SketchSvd {
  /** rows x l: left singular vectors of A's sketch (Q Ub). */
  readonly left: Float64Array;
  /** cols x l: right singular vectors (Vb). */
  readonly right: Float64Array;
  readonly values: Float64Array;
  readonly width: number;
}

function sketchSvd(a: Float64Array, rows: number, cols: number, width: number, options: RandomizedSvdOptions): SketchSvd {
  const steps = sketchSteps(rows, cols, width, options);
  let step = steps.next();
  while (!step.done) {
    const { x, transpose } = step.value;
    step = steps.next(transpose ? transposeTimes(a, rows, cols, x, width) : times(a, rows, cols, x, width));
  }
  return step.value;
}

/** What a sketch step needs: A @ x (x: cols x width) or, when `transpose`, A^T @ x (x: rows x width). */
export interface ProductRequest {
  readonly x: Float64Array;
  readonly transpose: boolean;
}

/**
 * The range finder as a generator of the products it needs, so the same steps run with CPU
 * products here and GPU products in randomized-svd-gpu.ts.
 */
export function* sketchSteps(rows: number, cols: number, width: number, options: RandomizedSvdOptions): Generator<ProductRequest, SketchSvd, Float64Array> {
  const powerIterations = options.powerIterations ?? DEFAULT_POWER_ITERATIONS;
  if (!Number.isInteger(powerIterations) || powerIterations < 0 || powerIterations > 20)
    throw new InputError(`randomizedSvd: powerIterations: expected an integer in [0, 20], got ${powerIterations}`);
  const omega = new SeededRandom(options.seed ?? 0).normalArray64(cols * width);
  let q = thinQr(yield { x: omega, transpose: false }, rows, width).q;
  for (let i = 0; i < powerIterations; i++) {
    const z = thinQr(yield { x: q, transpose: true }, cols, width).q;
    q = thinQr(yield { x: z, transpose: false }, rows, width).q;
  }
  // B^T = A^T Q (cols x l) = Q2 R2, R2 = Ur S Vr^T  =>  B = Vr S (Q2 Ur)^T,  A ~ (Q Vr) S (Q2 Ur)^T.
  const bt = thinQr(yield { x: q, transpose: true }, cols, width);
  const core = jacobiSvd(bt.r, width, width);
  return { left: product(q, rows, width, core.v, width), right: product(bt.q, cols, width, core.u, width), values: core.values, width };
}

export function zeroSketch(rows: number, cols: number): SketchSvd {
  return { left: new Float64Array(rows), right: new Float64Array(cols), values: new Float64Array(1), width: 1 };
}

/** Rank-`rank` factors from a sketch, with the error measured in float64 against `a`. */
export function factorsOf(a: Float64Array, rows: number, cols: number, sketch: SketchSvd, rank: number): LowRankApproximation {
  const { left, right, values, width } = sketch;
  const up = new Float32Array(rows * rank);
  const down = new Float32Array(rank * cols);
  for (let k = 0; k < rank; k++) {
    const root = Math.sqrt(values[k]);
    for (let i = 0; i < rows; i++) up[i * rank + k] = left[i * width + k] * root;
    for (let j = 0; j < cols; j++) down[k * cols + j] = right[j * width + k] * root;
  }
  const total = squaredNorm(a);
  let residual = 0;
  const row = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) row[j] = a[i * cols + j];
    for (let k = 0; k < rank; k++) {
      const coefficient = up[i * rank + k];
      for (let j = 0; j < cols; j++) row[j] -= coefficient * down[k * cols + j];
    }
    for (let j = 0; j < cols; j++) residual += row[j] * row[j];
  }
  return { rows, cols, rank, up, down, singularValues: values, relativeError: total > 0 ? Math.sqrt(residual / total) : 0 };
}

export function checkMatrix(a: DenseMatrix): { rows: number; cols: number } {
  const { rows, cols } = a;
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(cols) || cols < 1) throw new InputError(`randomizedSvd: expected positive integer dimensions, got ${rows} x ${cols}`);
  if (a.data.length !== rows * cols) throw new InputError(`randomizedSvd: expected ${rows} x ${cols} = ${rows * cols} values, got ${a.data.length}`);
  for (let i = 0; i < a.data.length; i++) if (!Number.isFinite(a.data[i])) throw new InputError(`randomizedSvd: value ${a.data[i]} at ${i} is not finite`);
  return { rows, cols };
}

export function oversampleOf(options: RandomizedSvdOptions): number {
  const oversample = options.oversample ?? DEFAULT_OVERSAMPLE;
  if (!Number.isInteger(oversample) || oversample < 0) throw new InputError(`randomizedSvd: oversample: expected a non-negative integer, got ${oversample}`);
  return oversample;
}

function squaredNorm(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return sum;
}

/** A (rows x cols) @ X (cols x width). */
function times(a: Float64Array, rows: number, cols: number, x: Float64Array, width: number): Float64Array {
  return product(a, rows, cols, x, width);
}

/** A^T (cols x rows) @ X (rows x width), without forming A^T. */
function transposeTimes(a: Float64Array, rows: number, cols: number, x: Float64Array, width: number): Float64Array {
  const out = new Float64Array(cols * width);
  for (let i = 0; i < rows; i++) {
    const xRow = i * width;
    for (let j = 0; j < cols; j++) {
      const value = a[i * cols + j];
      if (value === 0) continue;
      const outRow = j * width;
      for (let c = 0; c < width; c++) out[outRow + c] += value * x[xRow + c];
    }
  }
  return out;
}

/** X (rows x inner) @ Y (inner x width), row-major. */
function product(x: Float64Array, rows: number, inner: number, y: Float64Array, width: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let i = 0; i < rows; i++) {
    const outRow = i * width;
    for (let k = 0; k < inner; k++) {
      const value = x[i * inner + k];
      if (value === 0) continue;
      const yRow = k * width;
      for (let c = 0; c < width; c++) out[outRow + c] += value * y[yRow + c];
    }
  }
  return out;
}
