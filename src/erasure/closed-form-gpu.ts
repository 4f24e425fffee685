/**
 * The closed-form edit with its expensive products on the GPU (float32, our matmul) and the
 * small factorizations on the CPU (float64).
 *
 * - Woodbury solver: K = C^T C (n x n) on the GPU; G's Cholesky, Z = G^-1 E and V^T = Z^T B^T
 *   on the CPU. The float32 Gram is corrected by iterative refinement whose residuals use the
 *   float64 vectors, so V^T comes out float64-accurate whenever cond(G) eps32 < 1.
 * - Cholesky solver: A = C S C^T (d x d) on the GPU, factored on the CPU; accurate to about
 *   cond(A) x 6e-8 (no refinement: the d x d factorization dominates its time anyway).
 * - LoRA factors up = W U for every projection: one matmul each, weights stay on the GPU.
 * - The text-embedding edit E M^T (see edit-embedding.ts).
 */
import type { GpuContext } from '../gpu/context.ts';
import { matmul } from '../gpu/kernels/matmul.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { InputError } from '../util/errors.ts';
import { choleskyEditRows } from './closed-form-cholesky.ts';
import {
  cheaperSolver,
  CLOSED_FORM_SOLVERS,
  editOperatorOf,
  type ClosedFormSolver,
  type EditOperator,
  type SolveOptions,
} from './closed-form.ts';
import { ConditionError, MAX_TRUSTED_CONDITION, resolveProblem, type ClosedFormProblem, type ResolvedProblem } from './closed-form-problem.ts';
import { woodburyEditRows } from './closed-form-woodbury.ts';

/** What the GPU solve did, for the benchmark and the recipe. */
export interface GpuSolveReport {
  readonly solver: ClosedFormSolver;
  readonly estimatedCondition: number;
  /** Woodbury only: refinement steps taken and the final relative residual. */
  readonly refinementSteps: number;
  readonly relativeResidual: number;
}

export interface GpuEditOperator extends EditOperator {
  readonly report: GpuSolveReport;
}

/** M = I + U V^T with the Gram product on the GPU. Same solver rule as solveEditOperator. */
export async function solveEditOperatorGpu(ctx: GpuContext, problem: ClosedFormProblem, options: SolveOptions = {}): Promise<GpuEditOperator> {
  const resolved = resolveProblem(problem);
  const choice = options.solver ?? 'auto';
  if (choice !== 'auto' && !CLOSED_FORM_SOLVERS.includes(choice))
    throw new InputError(`closed form: solver: expected 'auto', ${CLOSED_FORM_SOLVERS.map((s) => `'${s}'`).join(', ')}, got ${String(choice)}`);
  const first = choice === 'auto' ? cheaperSolver(resolved.width, resolved.count, resolved.nErase) : choice;
  const order: ClosedFormSolver[] = choice === 'auto' ? [first, first === 'cholesky' ? 'woodbury' : 'cholesky'] : [first];
  const notes: string[] = [];
  let lastFailure: Error | undefined;
  for (const solver of order) {
    try {
      const result = solver === 'woodbury' ? await woodburyOnGpu(ctx, resolved) : await choleskyOnGpu(ctx, resolved);
      if (result.report.estimatedCondition <= MAX_TRUSTED_CONDITION) return { ...editOperatorOf(resolved, result.vt, solver), report: result.report };
      notes.push(`${solver}: cond >= ${result.report.estimatedCondition.toExponential(2)}`);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      lastFailure = error;
      notes.push(`${solver}: ${error.message}`);
    }
  }
  if (lastFailure && !(lastFailure instanceof ConditionError)) throw lastFailure;
  throw new ConditionError(
    `closed form: lambda: with lambda ${resolved.lambda} the system is too ill-conditioned for an accurate solve (${notes.join('; ')}); raise lambda (UCE uses 0.5)`,
  );
}

/** K = R R^T for the stacked constraint rows R (n x d), computed in float32 on the GPU. */
export async function gramOnGpu(ctx: GpuContext, problem: ResolvedProblem): Promise<Float64Array> {
  const { count: n, width: d } = problem;
  const rows = ctx.upload(problem.inputs, [n, d]);
  const gram = matmul(ctx, rows, rows, { transposeB: true });
  try {
    return Float64Array.from(await ctx.read(gram));
  } finally {
    rows.release();
    gram.release();
  }
}

/** The lower triangle of lambda I + R^T S R (d x d), the product in float32 on the GPU. */
export async function systemOnGpu(ctx: GpuContext, problem: ResolvedProblem): Promise<Float64Array> {
  const { count: n, width: d, inputs, scales, lambda } = problem;
  const scaled = new Float32Array(n * d);
  for (let k = 0; k < n; k++) for (let i = 0; i < d; i++) scaled[k * d + i] = scales[k] * inputs[k * d + i];
  const rows = ctx.upload(inputs, [n, d]);
  const scaledRows = ctx.upload(scaled, [n, d]);
  const product = matmul(ctx, scaledRows, rows, { transposeA: true });
  try {
    const values = await ctx.read(product);
    const a = new Float64Array(d * d);
    // Symmetrize: the two float32 triangles round differently.
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) a[i * d + j] = 0.5 * (values[i * d + j] + values[j * d + i]);
    for (let i = 0; i < d; i++) a[i * d + i] += lambda;
    return a;
  } finally {
    rows.release();
    scaledRows.release();
    product.release();
  }
}

async function woodburyOnGpu(ctx: GpuContext, problem: ResolvedProblem): Promise<{ vt: Float64Array; report: GpuSolveReport }> {
  if (!(problem.lambda > 0)) throw new ConditionError(`closed form: solver: the n x n (Woodbury) solver needs lambda > 0 (got ${problem.lambda})`);
  const rows = woodburyEditRows(problem, { gram: await gramOnGpu(ctx, problem) });
  // Refinement converges only while cond(G) eps32 < 1; a residual left large means it did not.
  if (!(rows.relativeResidual <= 1e-12))
    throw new ConditionError(`closed form: solver: refinement of the float32 Gram stalled at residual ${rows.relativeResidual.toExponential(2)}`);
  return { vt: rows.vt, report: { solver: 'woodbury', estimatedCondition: rows.estimatedCondition, refinementSteps: rows.refinementSteps, relativeResidual: rows.relativeResidual } };
}

async function choleskyOnGpu(ctx: GpuContext, problem: ResolvedProblem): Promise<{ vt: Float64Array; report: GpuSolveReport }> {
  const rows = choleskyEditRows(problem, await systemOnGpu(ctx, problem));
  return { vt: rows.vt, report: { solver: 'cholesky', estimatedCondition: rows.estimatedCondition, refinementSteps: 0, relativeResidual: Number.NaN } };
}

/** U (d x n_e) and V^T (n_e x d) as float32 GPU tensors, uploaded once per edit. */
export interface GpuEditFactors {
  readonly u: GpuTensor;
  readonly vt: GpuTensor;
  release(): void;
}

export function uploadEditFactors(ctx: GpuContext, operator: EditOperator): GpuEditFactors {
  const u = ctx.upload(operator.u, [operator.width, operator.rank]);
  const vt = ctx.upload(operator.vt, [operator.rank, operator.width]);
  return { u, vt, release: () => (u.release(), vt.release()) };
}

/**
 * Exact LoRA ups for projections already on the GPU: up_l = W_l U (out x n_e, float32).
 * The down factor of every projection is V^T itself (factors.vt). Recorded, not synced.
 */
export function exactLoraUpsGpu(ctx: GpuContext, factors: GpuEditFactors, weights: readonly GpuTensor[]): GpuTensor[] {
  return weights.map((weight, l) => {
    if (weight.shape.length !== 2 || weight.shape[1] !== factors.u.shape[0])
      throw new InputError(`closed form: weights[${l}]: expected [out, ${factors.u.shape[0]}], got [${weight.shape}]`);
    return matmul(ctx, weight, factors.u);
  });
}
