import { beforeAll, describe, expect, test } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { exactLora, solveEditOperator, solveLayerDirect, type ClosedFormProblem } from '../../src/erasure/closed-form.ts';
import { exactLoraUpsGpu, solveEditOperatorGpu, uploadEditFactors } from '../../src/erasure/closed-form-gpu.ts';
import { editTextEmbedding, GpuEmbeddingEdit } from '../../src/erasure/edit-embedding.ts';
import { testGpu } from '../support/gpu.ts';
import { invert, matrix, maxRelativeError, multiply, sumOfOuterProducts, transpose } from './reference-linalg.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ({ ctx } = await testGpu());
});

function randomProblem(seed: number, d: number, nErase: number, nPreserve: number, lambda = 0.5): ClosedFormProblem {
  const random = new SeededRandom(seed);
  return {
    width: d,
    lambda,
    erase: Array.from({ length: nErase }, () => ({ input: random.normalArray64(d), target: random.normalArray64(d), scale: 0.5 + random.uniform() })),
    preserve: Array.from({ length: nPreserve }, () => ({ input: random.normalArray64(d), scale: 0.05 + random.uniform() })),
  };
}

/** M^T = (B A^-1)^T by Gauss-Jordan, independent of src/erasure. */
function referenceMTranspose(problem: ClosedFormProblem): Float64Array {
  const d = problem.width;
  const preserve = problem.preserve ?? [];
  const a = sumOfOuterProducts(d, problem.lambda!, [
    ...problem.erase.map((c) => ({ x: c.input, y: c.input, s: c.scale! })),
    ...preserve.map((c) => ({ x: c.input, y: c.input, s: c.scale! })),
  ]);
  const b = sumOfOuterProducts(d, problem.lambda!, [
    ...problem.erase.map((c) => ({ x: c.target, y: c.input, s: c.scale! })),
    ...preserve.map((c) => ({ x: c.input, y: c.input, s: c.scale! })),
  ]);
  return transpose(multiply(b, invert(a))).data;
}

describe('closed-form solve on the GPU (float32 products, float64 factorization)', () => {
  test.each([
    ['woodbury', 70, 5, 20],
    ['woodbury', 131, 11, 60],
    ['cholesky', 70, 5, 90],
  ] as const)('%s at d = %i, n_e = %i, n_p = %i matches the float64 CPU solve', async (solver, d, nErase, nPreserve) => {
    const problem = randomProblem(d + nPreserve, d, nErase, nPreserve);
    const cpu = solveEditOperator(problem, { solver: 'cholesky' });
    const gpu = await solveEditOperatorGpu(ctx, problem);
    expect(gpu.solver).toBe(solver);
    const error = maxRelativeError(gpu.vt, cpu.vt);
    if (solver === 'woodbury') {
      // The float32 Gram is refined against float64 residuals: float64 accuracy.
      expect(gpu.report.refinementSteps).toBeGreaterThan(0);
      expect(error).toBeLessThan(1e-10);
    } else {
      // cond(A) x float32 rounding, no refinement.
      expect(error).toBeLessThan(1e-4);
      expect(error).toBeGreaterThan(1e-12);
    }
  });

  test('forcing the GPU Woodbury solver with lambda 0 is a ConditionError; auto falls through to Cholesky', async () => {
    const problem = randomProblem(3, 20, 2, 30, 0);
    await expect(solveEditOperatorGpu(ctx, problem, { solver: 'woodbury' })).rejects.toThrow(/lambda > 0/);
    const auto = await solveEditOperatorGpu(ctx, problem);
    expect(auto.solver).toBe('cholesky');
  });

  test('exact LoRA ups W U on the GPU match the CPU factors and reproduce the per-layer solve', async () => {
    const d = 77;
    const problem = randomProblem(5, d, 4, 12);
    const operator = solveEditOperator(problem);
    const factors = uploadEditFactors(ctx, operator);
    const random = new SeededRandom(6);
    const shapes = [33, 64, 130];
    const weights = shapes.map((out) => random.normalArray(out * d, 0.05));
    const ups = exactLoraUpsGpu(ctx, factors, weights.map((w, l) => ctx.upload(w, [shapes[l], d])));
    for (const [l, out] of shapes.entries()) {
      const cpu = exactLora(operator, weights[l], out);
      const up = await ctx.read(ups[l]);
      expect(maxRelativeError(up, cpu.up)).toBeLessThan(1e-5);
      const edited = multiply(matrix(out, operator.rank, up), matrix(operator.rank, d, operator.vt)).data.map((x, i) => x + weights[l][i]);
      expect(maxRelativeError(edited, solveLayerDirect(problem, weights[l], out))).toBeLessThan(1e-5);
    }
    factors.release();
  });
});

describe('editing the text embedding: E\' = E M^T', () => {
  const d = 48;
  const tokens = 77;
  const problem = randomProblem(11, d, 3, 10);
  const operator = solveEditOperator(problem);
  const embedding = new SeededRandom(12).normalArray(tokens * d);
  const want = multiply(matrix(tokens, d, embedding), matrix(d, d, referenceMTranspose(problem))).data;

  test('the CPU low-rank edit matches the dense reference', () => {
    expect(maxRelativeError(editTextEmbedding(operator, embedding, tokens), want)).toBeLessThan(1e-6);
  });

  test('the GPU edit matches the dense reference, also batched [2, tokens, d]', async () => {
    const edit = GpuEmbeddingEdit.create(ctx, operator);
    expect(maxRelativeError(await ctx.read(edit.apply(ctx.upload(embedding, [tokens, d]))), want)).toBeLessThan(1e-5);
    const twice = new Float32Array(2 * tokens * d);
    twice.set(embedding);
    twice.set(embedding, tokens * d);
    const batched = await ctx.read(edit.apply(ctx.upload(twice, [2, tokens, d])));
    expect(maxRelativeError(batched.subarray(tokens * d), want)).toBeLessThan(1e-5);
    edit.release();
  });

  test('one edited embedding gives every projection its edited K: (E M^T) W^T = E W\'^T', () => {
    const edited = editTextEmbedding(operator, embedding, tokens);
    const random = new SeededRandom(13);
    for (const out of [40, 96]) {
      const w = random.normalArray(out * d, 0.05);
      const direct = solveLayerDirect(problem, w, out);
      const viaEmbedding = multiply(matrix(tokens, d, edited), transpose(matrix(out, d, w))).data;
      const viaWeight = multiply(matrix(tokens, d, embedding), transpose(matrix(out, d, direct))).data;
      expect(maxRelativeError(viaEmbedding, viaWeight)).toBeLessThan(1e-5);
    }
  });

  test('bad shapes are InputErrors naming the field', () => {
    expect(() => editTextEmbedding(operator, embedding.subarray(1), tokens)).toThrow(/embedding: expected \[77, 48\]/);
    expect(() => GpuEmbeddingEdit.create(ctx, operator).apply(ctx.upload(new Float32Array(10 * 47), [10, 47]))).toThrow(/embedding: expected \[tokens, 48\]/);
  });
});
