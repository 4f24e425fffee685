import { describe, expect, test } from 'vitest';
import { lowRankWithin, randomizedSvd } from '../../src/erasure/linalg/randomized-svd.ts';
import { InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { frobenius, matrix, multiply, subtract, symmetricEigenvalues, transpose } from './reference-linalg.ts';

/** A (rows x cols) = X diag(decay^k) Y with Gaussian X, Y: a spectrum that decays geometrically. */
function decaying(seed: number, rows: number, cols: number, decay: number, rank = Math.min(rows, cols)): Float64Array {
  const random = new SeededRandom(seed);
  const x = random.normalArray64(rows * rank);
  const y = random.normalArray64(rank * cols);
  for (let i = 0; i < rows; i++) for (let k = 0; k < rank; k++) x[i * rank + k] *= decay ** k;
  return multiply(matrix(rows, rank, x), matrix(rank, cols, y)).data;
}

/** The optimal (Eckart-Young) relative error of a rank-k approximation, from eigenvalues of A^T A (independent Jacobi). */
function optimalError(a: Float64Array, rows: number, cols: number, k: number): number {
  const m = matrix(rows, cols, a);
  const eigenvalues = symmetricEigenvalues(multiply(transpose(m), m)).map((v) => Math.max(0, v));
  const total = eigenvalues.reduce((s, v) => s + v, 0);
  return Math.sqrt(eigenvalues.slice(k).reduce((s, v) => s + v, 0) / total);
}

function measuredError(a: Float64Array, rows: number, cols: number, up: Float32Array, down: Float32Array, rank: number): number {
  const approx = multiply(matrix(rows, rank, up), matrix(rank, cols, down));
  return frobenius(subtract(matrix(rows, cols, a), approx).data) / frobenius(a);
}

describe('randomized SVD', () => {
  test.each([
    [40, 30, 5],
    [23, 37, 8],
    [50, 50, 12],
  ])('%i x %i, rank %i: error within 1%% of the exact SVD optimum; reported error is the measured one', (rows, cols, k) => {
    const a = decaying(rows * cols, rows, cols, 0.7);
    const result = randomizedSvd({ rows, cols, data: a }, k, { seed: 4 });
    expect([result.rank, result.up.length, result.down.length]).toEqual([k, rows * k, k * cols]);
    const optimum = optimalError(a, rows, cols, k);
    const measured = measuredError(a, rows, cols, result.up, result.down, k);
    expect(Math.abs(result.relativeError - measured)).toBeLessThan(1e-9);
    expect(measured).toBeGreaterThanOrEqual(optimum * (1 - 1e-6));
    expect(measured).toBeLessThan(optimum * 1.01);
  });

  test('without power iterations a flat spectrum is approximated worse; with them, near the optimum', () => {
    const rows = 60;
    const cols = 45;
    const a = decaying(7, rows, cols, 0.93);
    const optimum = optimalError(a, rows, cols, 6);
    const plain = randomizedSvd({ rows, cols, data: a }, 6, { seed: 1, powerIterations: 0, oversample: 2 }).relativeError;
    const powered = randomizedSvd({ rows, cols, data: a }, 6, { seed: 1, powerIterations: 3, oversample: 2 }).relativeError;
    expect(plain).toBeGreaterThan(powered);
    expect(powered).toBeLessThan(optimum * 1.02);
  });

  test('a matrix of exact rank r is recovered to float32 precision at rank r', () => {
    const a = decaying(3, 64, 48, 0.9, 7);
    const result = randomizedSvd({ rows: 64, cols: 48, data: a }, 7, { seed: 2 });
    expect(result.relativeError).toBeLessThan(1e-6);
  });

  test('the same seed gives the same bits, another seed different bits', () => {
    const a = decaying(5, 30, 20, 0.8);
    const one = randomizedSvd({ rows: 30, cols: 20, data: a }, 4, { seed: 11, powerIterations: 0, oversample: 0 });
    const again = randomizedSvd({ rows: 30, cols: 20, data: a }, 4, { seed: 11, powerIterations: 0, oversample: 0 });
    const other = randomizedSvd({ rows: 30, cols: 20, data: a }, 4, { seed: 12, powerIterations: 0, oversample: 0 });
    expect(again.up).toEqual(one.up);
    expect(other.up).not.toEqual(one.up);
  });

  test('lowRankWithin: the smallest rank that meets the tolerance (checked against the exact optimum)', () => {
    const rows = 70;
    const cols = 40;
    const a = decaying(8, rows, cols, 0.6);
    const result = lowRankWithin({ rows, cols, data: a }, 1e-3, { seed: 0 })!;
    expect(result).not.toBeNull();
    expect(result.relativeError).toBeLessThanOrEqual(1e-3);
    expect(measuredError(a, rows, cols, result.up, result.down, result.rank)).toBeLessThanOrEqual(1e-3);
    // No rank below it can meet the tolerance, even optimally; and it is at most 1 above the optimal rank (the 0.9 margin).
    expect(optimalError(a, rows, cols, result.rank - 1)).toBeGreaterThan(1e-3);
    let optimalRank = 1;
    while (optimalError(a, rows, cols, optimalRank) > 1e-3) optimalRank++;
    expect(result.rank - optimalRank).toBeLessThanOrEqual(1);
  });

  test('lowRankWithin: null when the rank needed exceeds maxRank; a zero matrix is rank 1 with error 0', () => {
    const random = new SeededRandom(1);
    const noise = random.normalArray64(30 * 20); // full rank, flat spectrum
    expect(lowRankWithin({ rows: 30, cols: 20, data: noise }, 1e-3, { maxRank: 10 })).toBeNull();
    const zero = lowRankWithin({ rows: 5, cols: 4, data: new Float64Array(20) }, 1e-3)!;
    expect([zero.rank, zero.relativeError]).toEqual([1, 0]);
  });

  test('bad input is an InputError', () => {
    expect(() => randomizedSvd({ rows: 3, cols: 3, data: new Float64Array(8) }, 1)).toThrow(InputError);
    expect(() => randomizedSvd({ rows: 3, cols: 3, data: new Float64Array(9) }, 4)).toThrow(/rank/);
    expect(() => randomizedSvd({ rows: 2, cols: 2, data: [1, NaN, 0, 1] }, 1)).toThrow(/not finite/);
    expect(() => lowRankWithin({ rows: 2, cols: 2, data: [1, 0, 0, 1] }, 0)).toThrow(/tolerance/);
  });
});
