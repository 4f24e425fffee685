/**
 * The closed-form (UCE / RealEra) cross-attention edit, in float64 on the CPU.
 *
 * For one projection W (out x d) the objective
 *   min_W' sum_e s_e |W'c_e - W c*_e|^2 + sum_p s_p |W'c_p - W c_p|^2 + lambda |W' - W|_F^2
 * is solved by W' = W M with
 *   A = lambda I + sum_e s_e c_e c_e^T + sum_p s_p c_p c_p^T                (SPD)
 *   B = lambda I + sum_e s_e c*_e c_e^T + sum_p s_p c_p c_p^T
 *   M = B A^-1.
 * M does not depend on W, so one solve serves every to_k / to_v. And B - A = U C_e^T with
 * U = [s_e (c*_e - c_e)], C_e = [c_e], so
 *   M = (A + U C_e^T) A^-1 = I + U (C_e^T A^-1) = I + U V^T,   V^T = C_e^T A^-1 = (A^-1 C_e)^T,
 * a rank <= n_e update: W' - W = (W U) V^T is an exact LoRA with up = W U, down = V^T.
 * Only A is factored (Cholesky); A^-1 is never formed.
 */
import { InputError } from '../util/errors.ts';
import { choleskyFactor, NotPositiveDefiniteError, solveRowsInPlace, type CholeskyFactor } from './linalg/cholesky.ts';
import { dot } from './linalg/dot.ts';

export type Vector = Float32Array | Float64Array | readonly number[];
export type Weight = Float32Array | Float64Array;

/** c_e should produce what c*_e produced in the original model. */
export interface EraseConstraint {
  readonly input: Vector;
  readonly target: Vector;
  /** s_e; the problem's eraseScale when absent. */
  readonly scale?: number;
}

/** c_p should keep producing what it produced in the original model. */
export interface PreserveConstraint {
  readonly input: Vector;
  /** s_p; the problem's preserveScale when absent. */
  readonly scale?: number;
}

export interface ClosedFormSettings {
  /** Ridge lambda on |W' - W|_F^2; > 0 keeps A positive definite with fewer than d constraints. */
  readonly lambda: number;
  readonly eraseScale: number;
  readonly preserveScale: number;
}

/** UCE: lambda 0.5, every scale 1. */
export const UCE_CLOSED_FORM: ClosedFormSettings = { lambda: 0.5, eraseScale: 1, preserveScale: 1 };

/**
 * RealEra eq. 7: lambda_1 = 0.1 weighs the preserve term (not the ridge). Eq. 7 has no ridge;
 * the UCE ridge 0.5 is kept because A is singular without it whenever there are fewer than d
 * constraint vectors.
 */
export const REALERA_CLOSED_FORM: ClosedFormSettings = { lambda: 0.5, eraseScale: 1, preserveScale: 0.1 };

export interface ClosedFormProblem extends Partial<ClosedFormSettings> {
  /** d: the text embedding width (768 for SD 1.x, 1024 for SD 2.x). */
  readonly width: number;
  readonly erase: readonly EraseConstraint[];
  readonly preserve?: readonly PreserveConstraint[];
}

/** M = I + U V^T, shared by every projection edited with the same constraints. */
export interface EditOperator {
  readonly width: number;
  /** n_e, the number of erase constraints: the rank bound of M - I. */
  readonly rank: number;
  readonly lambda: number;
  /** U, d x n_e row-major: column k is s_k (c*_k - c_k). */
  readonly u: Float64Array;
  /** V^T = C_e^T A^-1, n_e x d row-major. */
  readonly vt: Float64Array;
}

/** An exact or truncated LoRA for one projection: W' = W + up @ down. */
export interface LoraFactors {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly rank: number;
  /** out x rank, row-major. */
  readonly up: Float32Array;
  /** rank x in, row-major. */
  readonly down: Float32Array;
}

interface ResolvedProblem {
  readonly width: number;
  readonly lambda: number;
  readonly eraseInputs: Float64Array; // n_e x d
  readonly eraseTargets: Float64Array; // n_e x d
  readonly eraseScales: Float64Array;
  readonly preserveInputs: Float64Array; // n_p x d
  readonly preserveScales: Float64Array;
}

/** Solves for M once (Cholesky of A plus n_e solves). */
export function solveEditOperator(problem: ClosedFormProblem): EditOperator {
  const resolved = resolveProblem(problem);
  const { width: d, eraseInputs, eraseTargets, eraseScales } = resolved;
  const rank = eraseScales.length;
  const factor = factorRightSide(resolved);
  const vt = eraseInputs.slice();
  solveRowsInPlace(factor, vt, rank);
  const u = new Float64Array(d * rank);
  for (let k = 0; k < rank; k++) {
    const s = eraseScales[k];
    for (let i = 0; i < d; i++) u[i * rank + k] = s * (eraseTargets[k * d + i] - eraseInputs[k * d + i]);
  }
  return { width: d, rank, lambda: resolved.lambda, u, vt };
}

/** The dense d x d matrix M = I + U V^T (row-major). */
export function editOperatorMatrix(operator: EditOperator): Float64Array {
  const { width: d, rank, u, vt } = operator;
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const row = i * d;
    m[row + i] = 1;
    for (let k = 0; k < rank; k++) {
      const coefficient = u[i * rank + k];
      if (coefficient === 0) continue;
      const vRow = k * d;
      for (let j = 0; j < d; j++) m[row + j] += coefficient * vt[vRow + j];
    }
  }
  return m;
}

/** W' = W M for W (out x d, row-major), through the low-rank form W + (W U) V^T; float64 inside. */
export function applyEditOperator(operator: EditOperator, weight: Weight, outFeatures: number): Float32Array {
  checkWeight(weight, outFeatures, operator.width, 'weight');
  const { width: d, rank, vt } = operator;
  const up = projectThroughU(operator, weight, outFeatures);
  const out = new Float32Array(outFeatures * d);
  const row = new Float64Array(d);
  for (let o = 0; o < outFeatures; o++) {
    for (let j = 0; j < d; j++) row[j] = weight[o * d + j];
    for (let k = 0; k < rank; k++) {
      const coefficient = up[o * rank + k];
      const vRow = k * d;
      for (let j = 0; j < d; j++) row[j] += coefficient * vt[vRow + j];
    }
    out.set(row, o * d);
  }
  return out;
}

/** W' = W M with a dense M (d x d): the plain matrix product, for checking the low-rank path. */
export function applyEditMatrix(m: Float64Array, width: number, weight: Weight, outFeatures: number): Float32Array {
  if (m.length !== width * width) throw new InputError(`applyEditMatrix: M: expected ${width}x${width} values, got ${m.length}`);
  checkWeight(weight, outFeatures, width, 'weight');
  const out = new Float32Array(outFeatures * width);
  // A block of output rows shares each row of M while it is in cache; row by row, all of M
  // (4.7 MB at d = 768) would stream from memory once per output row.
  const block = new Float64Array(ROW_BLOCK * width);
  for (let o0 = 0; o0 < outFeatures; o0 += ROW_BLOCK) {
    const rows = Math.min(ROW_BLOCK, outFeatures - o0);
    block.fill(0);
    for (let i = 0; i < width; i++) {
      const mRow = i * width;
      for (let r = 0; r < rows; r++) {
        const w = weight[(o0 + r) * width + i];
        if (w === 0) continue;
        const base = r * width;
        for (let j = 0; j < width; j++) block[base + j] += w * m[mRow + j];
      }
    }
    out.set(block.subarray(0, rows * width), o0 * width);
  }
  return out;
}

const ROW_BLOCK = 16;

/**
 * Applies the edit to an embedding instead of a weight: W'e = W(Me), so transforming each token
 * vector once (e + U (V^T e)) edits every projection at once. `embedding` is tokens x d row-major.
 */
export function editEmbedding(operator: EditOperator, embedding: Vector, tokens: number): Float32Array {
  const { width: d, rank, u, vt } = operator;
  if (embedding.length !== tokens * d) throw new InputError(`editEmbedding: embedding: expected ${tokens}x${d} values, got ${embedding.length}`);
  const out = new Float32Array(tokens * d);
  const coefficients = new Float64Array(rank);
  for (let t = 0; t < tokens; t++) {
    const base = t * d;
    for (let k = 0; k < rank; k++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += vt[k * d + j] * embedding[base + j];
      coefficients[k] = sum;
    }
    for (let i = 0; i < d; i++) {
      let value = embedding[base + i];
      for (let k = 0; k < rank; k++) value += u[i * rank + k] * coefficients[k];
      out[base + i] = value;
    }
  }
  return out;
}

/** The exact LoRA of W' - W = (W U) V^T: up = W U (out x n_e), down = V^T (n_e x d). */
export function exactLora(operator: EditOperator, weight: Weight, outFeatures: number): LoraFactors {
  checkWeight(weight, outFeatures, operator.width, 'weight');
  return {
    outFeatures,
    inFeatures: operator.width,
    rank: operator.rank,
    up: Float32Array.from(projectThroughU(operator, weight, outFeatures)),
    down: Float32Array.from(operator.vt),
  };
}

/**
 * The reference path, solved for one layer as UCE writes it:
 * W' = (lambda W + sum_e s_e (W c*_e) c_e^T + sum_p s_p (W c_p) c_p^T) A^-1.
 * It factors A itself, so it shares nothing with solveEditOperator but the Cholesky routine.
 */
export function solveLayerDirect(problem: ClosedFormProblem, weight: Weight, outFeatures: number): Float32Array {
  const resolved = resolveProblem(problem);
  const { width: d, lambda, eraseInputs, eraseTargets, eraseScales, preserveInputs, preserveScales } = resolved;
  checkWeight(weight, outFeatures, d, 'weight');
  const factor = factorRightSide(resolved);
  const rows = new Float64Array(outFeatures * d);
  const row = new Float64Array(d);
  for (let o = 0; o < outFeatures; o++) {
    const base = o * d;
    for (let j = 0; j < d; j++) row[j] = weight[base + j];
    for (let j = 0; j < d; j++) rows[base + j] = lambda * row[j];
    const addTerms = (inputs: Float64Array, outputsOf: Float64Array, scales: Float64Array): void => {
      for (let k = 0; k < scales.length; k++) {
        const coefficient = scales[k] * dot(row, 0, outputsOf, k * d, d);
        for (let j = 0; j < d; j++) rows[base + j] += coefficient * inputs[k * d + j];
      }
    };
    addTerms(eraseInputs, eraseTargets, eraseScales);
    addTerms(preserveInputs, preserveInputs, preserveScales);
  }
  solveRowsInPlace(factor, rows, outFeatures);
  return Float32Array.from(rows);
}

/** up = W U (out x n_e, float64). */
function projectThroughU(operator: EditOperator, weight: Weight, outFeatures: number): Float64Array {
  const { width: d, rank, u } = operator;
  // U^T rows make every dot product below contiguous.
  const ut = new Float64Array(rank * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < rank; k++) ut[k * d + i] = u[i * rank + k];
  const up = new Float64Array(outFeatures * rank);
  const row = new Float64Array(d);
  for (let o = 0; o < outFeatures; o++) {
    for (let j = 0; j < d; j++) row[j] = weight[o * d + j];
    for (let k = 0; k < rank; k++) up[o * rank + k] = dot(row, 0, ut, k * d, d);
  }
  return up;
}

/** Builds A = lambda I + sum s c c^T (lower triangle) and factors it. */
function factorRightSide(problem: ResolvedProblem): CholeskyFactor {
  const { width: d, lambda, eraseInputs, eraseScales, preserveInputs, preserveScales } = problem;
  const nErase = eraseScales.length;
  const count = nErase + preserveScales.length;
  // Column i of the stacked constraints, as a contiguous row: A[i][j] = sum_k s_k C[k][i] C[k][j].
  const columns = new Float64Array(d * count);
  const scaledColumns = new Float64Array(d * count);
  for (let k = 0; k < count; k++) {
    const source = k < nErase ? eraseInputs : preserveInputs;
    const offset = (k < nErase ? k : k - nErase) * d;
    const scale = k < nErase ? eraseScales[k] : preserveScales[k - nErase];
    for (let i = 0; i < d; i++) {
      const value = source[offset + i];
      columns[i * count + k] = value;
      scaledColumns[i * count + k] = scale * value;
    }
  }
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ci = i * count;
    for (let j = 0; j <= i; j++) {
      const cj = j * count;
      a[i * d + j] = dot(scaledColumns, ci, columns, cj, count);
    }
    a[i * d + i] += lambda;
  }
  try {
    return choleskyFactor(a, d);
  } catch (error) {
    if (error instanceof NotPositiveDefiniteError) {
      throw new InputError(
        `closed form: lambda: A = lambda I + sum s c c^T is not positive definite (pivot ${error.pivotIndex} is ${error.pivotValue}); ` +
          `with ${count} constraint vectors in d = ${d} dimensions use lambda > 0 (UCE uses 0.5)`,
      );
    }
    throw error;
  }
}

function resolveProblem(problem: ClosedFormProblem): ResolvedProblem {
  const d = problem.width;
  if (!Number.isInteger(d) || d <= 0) throw new InputError(`closed form: width: expected a positive integer, got ${d}`);
  const lambda = problem.lambda ?? UCE_CLOSED_FORM.lambda;
  if (!Number.isFinite(lambda) || lambda < 0) throw new InputError(`closed form: lambda: expected a finite number >= 0, got ${lambda}`);
  const eraseScale = checkScale(problem.eraseScale ?? UCE_CLOSED_FORM.eraseScale, 'eraseScale');
  const preserveScale = checkScale(problem.preserveScale ?? UCE_CLOSED_FORM.preserveScale, 'preserveScale');
  if (!Array.isArray(problem.erase)) throw new InputError('closed form: erase: expected an array of { input, target, scale? }');
  const preserve = problem.preserve ?? [];
  const nErase = problem.erase.length;
  const eraseInputs = new Float64Array(nErase * d);
  const eraseTargets = new Float64Array(nErase * d);
  const eraseScales = new Float64Array(nErase);
  problem.erase.forEach((constraint, k) => {
    copyVector(constraint.input, d, `erase[${k}].input`, eraseInputs, k * d);
    copyVector(constraint.target, d, `erase[${k}].target`, eraseTargets, k * d);
    eraseScales[k] = checkScale(constraint.scale ?? eraseScale, `erase[${k}].scale`);
  });
  const preserveInputs = new Float64Array(preserve.length * d);
  const preserveScales = new Float64Array(preserve.length);
  preserve.forEach((constraint, k) => {
    copyVector(constraint.input, d, `preserve[${k}].input`, preserveInputs, k * d);
    preserveScales[k] = checkScale(constraint.scale ?? preserveScale, `preserve[${k}].scale`);
  });
  return { width: d, lambda, eraseInputs, eraseTargets, eraseScales, preserveInputs, preserveScales };
}

function checkScale(scale: number, field: string): number {
  if (!Number.isFinite(scale) || scale < 0) throw new InputError(`closed form: ${field}: expected a finite number >= 0, got ${scale}`);
  return scale;
}

function copyVector(vector: Vector | undefined, d: number, field: string, into: Float64Array, offset: number): void {
  if (vector === undefined || vector === null || typeof vector.length !== 'number')
    throw new InputError(`closed form: ${field}: expected a vector of ${d} numbers`);
  if (vector.length !== d) throw new InputError(`closed form: ${field}: expected ${d} values (the width), got ${vector.length}`);
  for (let i = 0; i < d; i++) {
    const value = vector[i];
    if (!Number.isFinite(value)) throw new InputError(`closed form: ${field}: value ${i} is ${value}, expected a finite number`);
    into[offset + i] = value;
  }
}

function checkWeight(weight: Weight, outFeatures: number, width: number, field: string): void {
  if (!Number.isInteger(outFeatures) || outFeatures <= 0)
    throw new InputError(`closed form: outFeatures: expected a positive integer, got ${outFeatures}`);
  if (weight.length !== outFeatures * width)
    throw new InputError(`closed form: ${field}: expected ${outFeatures}x${width} values (out x in, row-major), got ${weight.length}`);
}
