import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../src/util/random.ts';
import { truncateLora } from '../../src/erasure/lora-truncation.ts';
import type { LowRankUpdate } from '../../src/erasure/closed-form.ts';
import { frobenius, matrix, multiply, subtract, symmetricEigenvalues, transpose } from './reference-linalg.ts';

function randomLora(seed: number, out: number, inF: number, rank: number): LowRankUpdate {
  const random = new SeededRandom(seed);
  // Columns of different sizes give well-separated singular values.
  const up = random.normalArray(out * rank);
  for (let o = 0; o < out; o++) for (let k = 0; k < rank; k++) up[o * rank + k] *= 1 / (k + 1);
  return { outFeatures: out, inFeatures: inF, rank, up, down: random.normalArray(rank * inF) };
}

function dense(lora: LowRankUpdate): Float64Array {
  return multiply(matrix(lora.outFeatures, lora.rank, lora.up), matrix(lora.rank, lora.inFeatures, lora.down)).data;
}

describe('truncated SVD of a low-rank delta', () => {
  test('singular values match the eigenvalues of delta delta^T (float64 reference)', () => {
    const lora = randomLora(1, 45, 37, 6);
    const delta = matrix(45, 37, dense(lora));
    const eigenvalues = symmetricEigenvalues(multiply(transpose(delta), delta));
    const { singularValues } = truncateLora(lora, 3);
    for (let k = 0; k < 6; k++) expect(Math.abs(singularValues[k] ** 2 - eigenvalues[k])).toBeLessThan(1e-9 * eigenvalues[0]);
  });

  test.each([1, 2, 3, 4, 5])('rank %i: reported relative error equals the recomputed float64 error and is optimal', (k) => {
    const lora = randomLora(2, 50, 40, 6);
    const want = dense(lora);
    const truncated = truncateLora(lora, k);
    expect([truncated.rank, truncated.up.length, truncated.down.length]).toEqual([k, 50 * k, k * 40]);
    const recomputed = frobenius(subtract(matrix(50, 40, want), matrix(50, 40, dense(truncated))).data) / frobenius(want);
    expect(Math.abs(truncated.relativeError - recomputed)).toBeLessThan(1e-6);
    // Eckart-Young from independently computed eigenvalues.
    const eigenvalues = symmetricEigenvalues(multiply(transpose(matrix(50, 40, want)), matrix(50, 40, want))).slice(0, 6);
    const total = eigenvalues.reduce((x, y) => x + y, 0);
    const tail = eigenvalues.slice(k).reduce((x, y) => x + y, 0);
    expect(Math.abs(truncated.relativeError - Math.sqrt(tail / total))).toBeLessThan(1e-9);
    expect(truncated.relativeError).toBeGreaterThan(0);
  });

  test('the full rank gives ~0 error and reproduces the delta', () => {
    const lora = randomLora(3, 33, 29, 5);
    const truncated = truncateLora(lora, 5);
    expect(truncated.relativeError).toBeLessThan(1e-12);
    const want = dense(lora);
    expect(frobenius(subtract(matrix(33, 29, want), matrix(33, 29, dense(truncated))).data) / frobenius(want)).toBeLessThan(1e-6);
  });

  test('a rank-deficient LoRA (dependent columns) truncates to its true rank with ~0 error', () => {
    const lora = randomLora(4, 30, 26, 6);
    const up = Float32Array.from(lora.up);
    for (let o = 0; o < 30; o++) {
      up[o * 6 + 4] = 2 * up[o * 6 + 1];
      up[o * 6 + 5] = -0.5 * up[o * 6 + 0]; // powers of two: exact in float32, so exactly dependent
    }
    const deficient = { ...lora, up };
    const truncated = truncateLora(deficient, 4);
    expect(truncated.singularValues[4]).toBeLessThan(1e-10 * truncated.singularValues[0]);
    expect(truncated.relativeError).toBeLessThan(1e-8);
    const want = dense(deficient);
    expect(frobenius(subtract(matrix(30, 26, want), matrix(30, 26, dense(truncated))).data) / frobenius(want)).toBeLessThan(1e-6);
  });

  test('a target rank outside [1, rank] is refused', () => {
    const lora = randomLora(5, 8, 8, 3);
    expect(() => truncateLora(lora, 0)).toThrow(/targetRank: expected an integer in \[1, 3\]/);
    expect(() => truncateLora(lora, 4)).toThrow(/targetRank/);
    expect(() => truncateLora({ ...lora, up: new Float32Array(5) }, 2)).toThrow(/up: expected 8x3/);
  });
});
