/**
 * The closed-form edit's input: constraint vectors with scales, validated and stacked into one
 * float64 matrix that both solvers (d x d Cholesky, n x n Woodbury) read.
 */
import { InputError } from '../util/errors.ts';

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

/**
 * A solver cannot vouch for a float64 answer good to ~1e-8: its system's condition number
 * (estimated from the Cholesky pivots) is over MAX_TRUSTED_CONDITION, or it does not apply.
 */
export class ConditionError extends InputError {}

/**
 * Measured against an exact rational solve, the relative error of either solver is 1x..6x
 * (pivot estimate x 1.1e-16): up to this bound it stays near 1e-9, a tenfold margin on 1e-8.
 */
export const MAX_TRUSTED_CONDITION = 1e6;

/** A validated problem. Rows 0..nErase-1 of `inputs` are the c_e, the rest the c_p. */
export interface ResolvedProblem {
  readonly width: number;
  readonly lambda: number;
  readonly nErase: number;
  /** n = n_e + n_p. */
  readonly count: number;
  /** n x d row-major: every constraint vector, erase first. */
  readonly inputs: Float64Array;
  /** n scales, in the order of `inputs`. */
  readonly scales: Float64Array;
  /** n_e x d row-major: the c*_e. */
  readonly eraseTargets: Float64Array;
}

export function resolveProblem(problem: ClosedFormProblem): ResolvedProblem {
  const d = problem.width;
  if (!Number.isInteger(d) || d <= 0) throw new InputError(`closed form: width: expected a positive integer, got ${d}`);
  const lambda = problem.lambda ?? UCE_CLOSED_FORM.lambda;
  if (!Number.isFinite(lambda) || lambda < 0) throw new InputError(`closed form: lambda: expected a finite number >= 0, got ${lambda}`);
  const eraseScale = checkScale(problem.eraseScale ?? UCE_CLOSED_FORM.eraseScale, 'eraseScale');
  const preserveScale = checkScale(problem.preserveScale ?? UCE_CLOSED_FORM.preserveScale, 'preserveScale');
  if (!Array.isArray(problem.erase)) throw new InputError('closed form: erase: expected an array of { input, target, scale? }');
  const preserve = problem.preserve ?? [];
  if (!Array.isArray(preserve)) throw new InputError('closed form: preserve: expected an array of { input, scale? }');
  const nErase = problem.erase.length;
  const count = nErase + preserve.length;
  const inputs = new Float64Array(count * d);
  const scales = new Float64Array(count);
  const eraseTargets = new Float64Array(nErase * d);
  problem.erase.forEach((constraint, k) => {
    copyVector(constraint.input, d, `erase[${k}].input`, inputs, k * d);
    copyVector(constraint.target, d, `erase[${k}].target`, eraseTargets, k * d);
    scales[k] = checkScale(constraint.scale ?? eraseScale, `erase[${k}].scale`);
  });
  preserve.forEach((constraint, k) => {
    copyVector(constraint.input, d, `preserve[${k}].input`, inputs, (nErase + k) * d);
    scales[nErase + k] = checkScale(constraint.scale ?? preserveScale, `preserve[${k}].scale`);
  });
  return { width: d, lambda, nErase, count, inputs, scales, eraseTargets };
}

/** U, d x n_e row-major: column k is s_k (c*_k - c_k). */
export function eraseDirections(problem: ResolvedProblem): Float64Array {
  const { width: d, nErase: rank, inputs, scales, eraseTargets } = problem;
  const u = new Float64Array(d * rank);
  for (let k = 0; k < rank; k++) {
    const s = scales[k];
    for (let i = 0; i < d; i++) u[i * rank + k] = s * (eraseTargets[k * d + i] - inputs[k * d + i]);
  }
  return u;
}

export function checkWeight(weight: Weight, outFeatures: number, width: number, field: string): void {
  if (!Number.isInteger(outFeatures) || outFeatures <= 0)
    throw new InputError(`closed form: outFeatures: expected a positive integer, got ${outFeatures}`);
  if (weight.length !== outFeatures * width)
    throw new InputError(`closed form: ${field}: expected ${outFeatures}x${width} values (out x in, row-major), got ${weight.length}`);
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
