import { beforeAll, describe, expect, test } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { lowRankWithin, randomizedSvd } from '../../src/erasure/linalg/randomized-svd.ts';
import { lowRankWithinGpu, randomizedSvdGpu } from '../../src/erasure/linalg/randomized-svd-gpu.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { testGpu } from '../support/gpu.ts';
import { frobenius, matrix, multiply, subtract, symmetricEigenvalues, transpose } from './reference-linalg.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ({ ctx } = await testGpu());
});

function decaying(seed: number, rows: number, cols: number, decay: number): Float64Array {
  const random = new SeededRandom(seed);
  const rank = Math.min(rows, cols);
  const x = random.normalArray64(rows * rank);
  for (let i = 0; i < rows; i++) for (let k = 0; k < rank; k++) x[i * rank + k] *= decay ** k;
  return multiply(matrix(rows, rank, x), matrix(rank, cols, random.normalArray64(rank * cols))).data;
}

function optimalError(a: Float64Array, rows: number, cols: number, k: number): number {
  const m = matrix(rows, cols, a);
  const eigenvalues = symmetricEigenvalues(multiply(transpose(m), m)).map((v) => Math.max(0, v));
  const total = eigenvalues.reduce((s, v) => s + v, 0);
  return Math.sqrt(eigenvalues.slice(k).reduce((s, v) => s + v, 0) / total);
}

describe('randomized SVD with GPU products', () => {
  test.each([
    [65, 33, 6],
    [40, 70, 9],
  ])('%i x %i rank %i: near the exact optimum, measured error, and close to the CPU result (same seed)', async (rows, cols, k) => {
    const a = decaying(rows + cols, rows, cols, 0.75);
    const gpu = await randomizedSvdGpu(ctx, { rows, cols, data: a }, k, { seed: 3 });
    const cpu = randomizedSvd({ rows, cols, data: a }, k, { seed: 3 });
    const measured = frobenius(subtract(matrix(rows, cols, a), multiply(matrix(rows, k, gpu.up), matrix(k, cols, gpu.down))).data) / frobenius(a);
    expect(Math.abs(gpu.relativeError - measured)).toBeLessThan(1e-9);
    const optimum = optimalError(a, rows, cols, k);
    expect(gpu.relativeError).toBeLessThan(optimum * 1.01);
    expect(Math.abs(gpu.relativeError - cpu.relativeError)).toBeLessThan(1e-4 * optimum);
  });

  test('lowRankWithinGpu finds the same rank as the CPU search', async () => {
    const a = decaying(9, 80, 48, 0.6);
    const gpu = (await lowRankWithinGpu(ctx, { rows: 80, cols: 48, data: a }, 1e-3, { seed: 1 }))!;
    const cpu = lowRankWithin({ rows: 80, cols: 48, data: a }, 1e-3, { seed: 1 })!;
    expect(gpu.rank).toBe(cpu.rank);
    expect(gpu.relativeError).toBeLessThanOrEqual(1e-3);
    expect(await lowRankWithinGpu(ctx, { rows: 30, cols: 20, data: new SeededRandom(2).normalArray64(600) }, 1e-3, { maxRank: 8 })).toBeNull();
  });
});
