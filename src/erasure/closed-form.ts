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
 * A^-1 is never formed: V^T comes from a Cholesky factorization of A (d x d) or, when there are
 * fewer constraints than dimensions, of the n x n system of closed-form-woodbury.ts.
 */
import { InputError } from '../util/errors.ts';
import { choleskyEditRows, factorSystem } from './closed-form-cholesky.ts';
import {
  ConditionError,
  MAX_TRUSTED_CONDITION,
  checkWeight,
  eraseDirections,
  resolveProblem,
  type ClosedFormProblem,
  type ResolvedProblem,
  type Vector,
  type Weight,
} from './closed-form-problem.ts';
import { woodburyEditRows } from './closed-form-woodbury.ts';
import { solveRowsInPlace } from './linalg/cholesky.ts';
import { dot } from './linalg/dot.ts';

export {
  ConditionError,
  MAX_TRUSTED_CONDITION,
  REALERA_CLOSED_FORM,
  UCE_CLOSED_FORM,
  type ClosedFormProblem,
  type ClosedFormSettings,
  type EraseConstraint,
  type PreserveConstraint,
  type Vector,
  type Weight,
} from './closed-form-problem.ts';

/**
 * Which factorization yields V^T = C_e^T A^-1:
 *   'cholesky' factors A itself (d x d): d^2 n / 2 + d^3 / 6 + n_e d^2 multiply-adds;
 *   'woodbury' factors G = lambda I + S^1/2 C^T C S^1/2 (n x n): n^2 d / 2 + n^3 / 6 + n_e n (n + d).
 * Both are exact; they differ in cost and in conditioning (see closed-form-woodbury.ts).
 */
export type ClosedFormSolver = 'cholesky' | 'woodbury';
export const CLOSED_FORM_SOLVERS: readonly ClosedFormSolver[] = ['cholesky', 'woodbury'];

export interface SolveOptions {
  /**
   * 'auto' (default) picks the cheaper solver by the multiply-add counts above (in effect
   * Woodbury when n < ~0.9 d; at d = 768, n = 214 it is ~7x fewer operations) and switches to
   * the other when the first one's condition estimate exceeds MAX_TRUSTED_CONDITION (Woodbury:
   * lambda 0, or tiny lambda with nearly dependent vectors or n >= d; Cholesky: tiny lambda with
   * n < d). When neither can be trusted it throws ConditionError naming lambda. A named solver
   * is used alone and throws ConditionError when its estimate is over the bound.
   */
  readonly solver?: ClosedFormSolver | 'auto';
}

/** Multiply-adds of each solver for n constraints (n_e of them erased) in d dimensions. */
export function solverCost(solver: ClosedFormSolver, d: number, n: number, nErase: number): number {
  return solver === 'cholesky' ? (d * d * n) / 2 + (d * d * d) / 6 + nErase * d * d : (n * n * d) / 2 + (n * n * n) / 6 + nErase * n * (n + d);
}

/** The cheaper solver by multiply-add count (ties go to Cholesky, which needs no lambda > 0). */
export function cheaperSolver(d: number, n: number, nErase: number): ClosedFormSolver {
  return solverCost('woodbury', d, n, nErase) < solverCost('cholesky', d, n, nErase) ? 'woodbury' : 'cholesky';
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
  /** The solver that produced vt. */
  readonly solver: ClosedFormSolver;
}

/** An exact or truncated LoRA for one projection on the CPU: W' = W + up @ down (the trainable GPU factors are autograd/lora.ts LoraFactors). */
export interface LowRankUpdate {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly rank: number;
  /** out x rank, row-major. */
  readonly up: Float32Array;
  /** rank x in, row-major. */
  readonly down: Float32Array;
}


/** Solves for M once: one factorization, n_e solves. */
export function solveEditOperator(problem: ClosedFormProblem, options: SolveOptions = {}): EditOperator {
  const resolved = resolveProblem(problem);
  const choice = options.solver ?? 'auto';
  if (choice !== 'auto' && !CLOSED_FORM_SOLVERS.includes(choice))
    throw new InputError(`closed form: solver: expected 'auto', ${CLOSED_FORM_SOLVERS.map((s) => `'${s}'`).join(', ')}, got ${String(choice)}`);
  const { vt, solver } = solveRows(resolved, choice);
  return editOperatorOf(resolved, vt, solver);
}

/** M = I + U V^T from a solved V^T. */
export function editOperatorOf(problem: ResolvedProblem, vt: Float64Array, solver: ClosedFormSolver): EditOperator {
  return { width: problem.width, rank: problem.nErase, lambda: problem.lambda, u: eraseDirections(problem), vt, solver };
}

interface SolverRun {
  readonly vt?: Float64Array;
  readonly estimatedCondition: number;
  readonly failure?: Error;
}

function solveRows(problem: ResolvedProblem, choice: ClosedFormSolver | 'auto'): { vt: Float64Array; solver: ClosedFormSolver } {
  const first = choice === 'auto' ? cheaperSolver(problem.width, problem.count, problem.nErase) : choice;
  const order: ClosedFormSolver[] = choice === 'auto' ? [first, first === 'cholesky' ? 'woodbury' : 'cholesky'] : [first];
  const runs: string[] = [];
  let lastFailure: Error | undefined;
  for (const solver of order) {
    const run = runSolver(problem, solver);
    if (run.vt && run.estimatedCondition <= MAX_TRUSTED_CONDITION) return { vt: run.vt, solver };
    lastFailure = run.failure;
    runs.push(run.failure ? `${solver}: ${run.failure.message}` : `${solver}: cond >= ${run.estimatedCondition.toExponential(2)}`);
  }
  // A plain input error (lambda 0 with too few vectors) says more than the condition summary.
  if (lastFailure && !(lastFailure instanceof ConditionError)) throw lastFailure;
  throw new ConditionError(
    `closed form: lambda: with lambda ${problem.lambda} the system is too ill-conditioned for an accurate solve ` +
      `(${runs.join('; ')}; trusted up to ${MAX_TRUSTED_CONDITION.toExponential(0)}); raise lambda (UCE uses 0.5) or drop nearly duplicate constraint vectors`,
  );
}

function runSolver(problem: ResolvedProblem, solver: ClosedFormSolver): SolverRun {
  try {
    return solver === 'cholesky' ? choleskyEditRows(problem) : woodburyEditRows(problem);
  } catch (error) {
    if (error instanceof InputError) return { estimatedCondition: Number.POSITIVE_INFINITY, failure: error };
    throw error;
  }
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

/** The exact LoRA of W' - W = (W U) V^T: up = W U (out x n_e), down = V^T (n_e x d). */
export function exactLora(operator: EditOperator, weight: Weight, outFeatures: number): LowRankUpdate {
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
  const { width: d, lambda, nErase, count, inputs, scales, eraseTargets } = resolved;
  checkWeight(weight, outFeatures, d, 'weight');
  const factor = factorSystem(resolved);
  const rows = new Float64Array(outFeatures * d);
  const row = new Float64Array(d);
  for (let o = 0; o < outFeatures; o++) {
    const base = o * d;
    for (let j = 0; j < d; j++) row[j] = weight[base + j];
    for (let j = 0; j < d; j++) rows[base + j] = lambda * row[j];
    for (let k = 0; k < count; k++) {
      // W c*_e for an erase constraint, W c_p for a preserved one.
      const output = k < nErase ? dot(row, 0, eraseTargets, k * d, d) : dot(row, 0, inputs, k * d, d);
      const coefficient = scales[k] * output;
      for (let j = 0; j < d; j++) rows[base + j] += coefficient * inputs[k * d + j];
    }
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
