/**
 * The n x n solver of the closed-form edit, for n = n_e + n_p < d constraint vectors.
 *
 * With B = C S^1/2 (d x n) and A = lambda I + B B^T, the push-through identity
 *   A B = B (lambda I + B^T B)   =>   A^-1 B = B G^-1,   G = lambda I_n + S^1/2 (C^T C) S^1/2,
 * gives every erase row at once: c_k = B e_k / sqrt(s_k), so
 *   v_k = A^-1 c_k = B G^-1 e_k / sqrt(s_k),    V^T = Z^T B^T,  Z = G^-1 E.
 * Only the Gram K = C^T C (n^2 d / 2), one n x n Cholesky (n^3 / 6) and n_e n d for V^T.
 *
 * Why this form and not Woodbury's A^-1 = (1/lambda)(I - B G^-1 B^T): applied to c_k that
 * subtracts two nearly equal vectors (B G^-1 B^T c_k -> c_k as lambda -> 0) and loses
 * log10(|c|^2 / lambda) digits. The push-through form has no subtraction; its error is
 * governed by cond(G) = (lambda + sigma_max) / (lambda + sigma_min) over the eigenvalues of
 * S^1/2 K S^1/2, which never exceeds cond(A) when n < d (A has the same spectrum plus d - n
 * eigenvalues equal to lambda). It does blow up when the c are (nearly) linearly dependent
 * and lambda is tiny, n >= d included: then `estimatedCondition` says so and the caller
 * falls back to the d x d solver. Measured against an exact rational solve (d = 24..30):
 * n < d gives 5e-16..5e-14 relative at every lambda in 2^-40..2^14; n > d with lambda = 2^-40
 * gives cond(G) ~ 1e13, where only the d x d solver is accurate.
 *
 * An erase constraint with scale 0 is not a column of B; its row needs the subtraction form
 * (1/lambda)(c_k - B G^-1 B^T c_k). Its U column is 0, so it never changes M.
 */
import { InputError } from '../util/errors.ts';
import { ConditionError, type ResolvedProblem } from './closed-form-problem.ts';
import { choleskyFactor, NotPositiveDefiniteError, pivotConditionEstimate, solveRowsInPlace, type CholeskyFactor } from './linalg/cholesky.ts';
import { dot } from './linalg/dot.ts';
import { rowGram } from './linalg/gram.ts';


export interface WoodburyOptions {
  /**
   * K = C^T C (n x n row-major) computed elsewhere (the GPU, in float32); computed on the CPU
   * in float64 when absent. An approximate K is corrected by iterative refinement against
   * residuals computed from the float64 inputs.
   */
  readonly gram?: Float64Array;
  /** Refinement steps allowed (default 0 for a CPU Gram, 4 for a given one). */
  readonly maxRefinementSteps?: number;
}

export interface WoodburyRows {
  /** V^T, n_e x d row-major. */
  readonly vt: Float64Array;
  /** Pivot ratio of G's Cholesky factor: a lower bound of cond(G). */
  readonly estimatedCondition: number;
  readonly refinementSteps: number;
  /** max |e - G z| / max |e| after the last step, over all right-hand sides. */
  readonly relativeResidual: number;
}

export function woodburyEditRows(problem: ResolvedProblem, options: WoodburyOptions = {}): WoodburyRows {
  const { width: d, lambda, nErase, count, inputs, scales } = problem;
  if (!(lambda > 0))
    throw new ConditionError(`closed form: solver: the n x n (Woodbury) solver needs lambda > 0 (got ${lambda}); use the d x d solver`);
  const gram = options.gram ?? rowGram(inputs, count, d);
  if (gram.length !== count * count) throw new InputError(`closed form: gram: expected ${count}x${count} values, got ${gram.length}`);
  const exactGram = options.gram === undefined;

  // The columns of B: every constraint with s > 0, weighted by sqrt(s).
  const active: number[] = [];
  for (let k = 0; k < count; k++) if (scales[k] > 0) active.push(k);
  const p = active.length;
  const weights = Float64Array.from(active, (k) => Math.sqrt(scales[k]));
  const g = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) g[i * p + j] = weights[i] * weights[j] * gram[active[i] * count + active[j]];
    g[i * p + i] += lambda;
  }
  let factor: CholeskyFactor;
  try {
    factor = choleskyFactor(g, p);
  } catch (error) {
    if (!(error instanceof NotPositiveDefiniteError)) throw error;
    throw new ConditionError(
      `closed form: solver: G = lambda I + S^1/2 C^T C S^1/2 (${p} x ${p}) is numerically singular at pivot ${error.pivotIndex} ` +
        `(lambda ${lambda} is tiny next to nearly dependent constraint vectors); use the d x d solver`,
    );
  }
  const estimatedCondition = pivotConditionEstimate(factor);

  // Right-hand sides: e_j / w_j for each erase row in B; B^T c_k for an erase row outside it.
  const position = new Int32Array(count).fill(-1);
  active.forEach((k, j) => (position[k] = j));
  const rhs = new Float64Array(nErase * p);
  for (let k = 0; k < nErase; k++) {
    const j = position[k];
    if (j >= 0) rhs[k * p + j] = 1 / weights[j];
    else for (let i = 0; i < p; i++) rhs[k * p + i] = weights[i] * gram[active[i] * count + k];
  }
  const z = rhs.slice();
  solveRowsInPlace(factor, z, nErase);

  const maxSteps = options.maxRefinementSteps ?? (exactGram ? 0 : 4);
  let refinementSteps = 0;
  let relativeResidual = Number.NaN;
  const applyG = makeExactG(problem, active, weights);
  for (;;) {
    const residual = rhs.slice();
    for (let k = 0; k < nErase; k++) applyG(z, k * p, residual, k * p, -1);
    relativeResidual = maxAbs(rhs) > 0 ? maxAbs(residual) / maxAbs(rhs) : 0;
    if (refinementSteps >= maxSteps || !(relativeResidual > 1e-15)) break;
    solveRowsInPlace(factor, residual, nErase);
    for (let i = 0; i < z.length; i++) z[i] += residual[i];
    refinementSteps++;
  }

  // v_k = sum_j w_j z_kj c_(active j)   (or, outside B, (c_k - that) / lambda).
  const vt = new Float64Array(nErase * d);
  for (let k = 0; k < nErase; k++) {
    const row = k * d;
    for (let j = 0; j < p; j++) {
      const coefficient = weights[j] * z[k * p + j];
      if (coefficient === 0) continue;
      const c = active[j] * d;
      for (let i = 0; i < d; i++) vt[row + i] += coefficient * inputs[c + i];
    }
    if (position[k] < 0) for (let i = 0; i < d; i++) vt[row + i] = (inputs[k * d + i] - vt[row + i]) / lambda;
  }
  return { vt, estimatedCondition, refinementSteps, relativeResidual };
}

/**
 * out[o..] += sign * G z[zo..] with G applied from the float64 vectors, never from K:
 * G z = lambda z + W C_a^T (C_a (W z)).
 */
function makeExactG(problem: ResolvedProblem, active: readonly number[], weights: Float64Array) {
  const { width: d, lambda, inputs } = problem;
  const p = active.length;
  const y = new Float64Array(d);
  return (z: Float64Array, zo: number, out: Float64Array, o: number, sign: number): void => {
    y.fill(0);
    for (let j = 0; j < p; j++) {
      const coefficient = weights[j] * z[zo + j];
      const c = active[j] * d;
      for (let i = 0; i < d; i++) y[i] += coefficient * inputs[c + i];
    }
    for (let j = 0; j < p; j++) out[o + j] += sign * (lambda * z[zo + j] + weights[j] * dot(inputs, active[j] * d, y, 0, d));
  };
}

function maxAbs(values: Float64Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}
