/**
 * The d x d solver of the closed-form edit: V^T = C_e^T A^-1 by a Cholesky factorization of
 * A = lambda I + C S C^T itself. Its cost, d^2 n / 2 (Gram) + d^3 / 6 (factor) + n_e d^2
 * (solves), does not grow with n beyond the Gram, so it is the solver for n >= d.
 */
import { InputError } from '../util/errors.ts';
import type { ResolvedProblem } from './closed-form-problem.ts';
import { choleskyFactor, NotPositiveDefiniteError, pivotConditionEstimate, solveRowsInPlace, type CholeskyFactor } from './linalg/cholesky.ts';
import { scaledColumnGram } from './linalg/gram.ts';

export interface SolvedRows {
  /** V^T, n_e x d row-major. */
  readonly vt: Float64Array;
  /** Lower bound of the factored system's condition number (pivot ratio). */
  readonly estimatedCondition: number;
}

/**
 * V^T (n_e x d) from A's lower triangle (`system`, d x d; built on the CPU when absent).
 * With n < d, A has d - n eigenvalues equal to lambda, so for tiny lambda cond(A) ~ |C S C^T| / lambda
 * and this solver loses digits (measured: 2e-3 relative at lambda = 2^-40, d = 24, n = 8) where
 * the n x n solver does not; the caller reads `estimatedCondition` to choose.
 */
export function choleskyEditRows(problem: ResolvedProblem, system?: Float64Array): SolvedRows {
  const factor = factorSystem(problem, system);
  const vt = problem.inputs.slice(0, problem.nErase * problem.width);
  solveRowsInPlace(factor, vt, problem.nErase);
  return { vt, estimatedCondition: pivotConditionEstimate(factor) };
}

/** Cholesky factor of A = lambda I + sum s c c^T. */
export function factorSystem(problem: ResolvedProblem, system?: Float64Array): CholeskyFactor {
  const { width: d, lambda, inputs, scales, count } = problem;
  const a = system ?? scaledColumnGram(inputs, scales, count, d, lambda);
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
