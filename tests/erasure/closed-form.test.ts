import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../src/util/random.ts';
import { InputError } from '../../src/util/errors.ts';
import {
  applyEditMatrix,
  applyEditOperator,
  editOperatorMatrix,
  exactLora,
  REALERA_CLOSED_FORM,
  solveEditOperator,
  solveLayerDirect,
  UCE_CLOSED_FORM,
  type ClosedFormProblem,
} from '../../src/erasure/closed-form.ts';
import { editTextEmbedding } from '../../src/erasure/edit-embedding.ts';
import {
  applyToVector,
  identity,
  invert,
  matrix,
  maxRelativeError,
  multiply,
  subtract,
  sumOfOuterProducts,
  symmetricEigenvalues,
  transpose,
  type Matrix,
} from './reference-linalg.ts';

interface Fixture {
  problem: ClosedFormProblem;
  erase: { input: Float64Array; target: Float64Array; scale: number }[];
  preserve: { input: Float64Array; scale: number }[];
}

function fixture(seed: number, d: number, nErase: number, nPreserve: number, lambda: number, randomScales = true): Fixture {
  const random = new SeededRandom(seed);
  const scale = (): number => (randomScales ? 0.5 + random.uniform() : 1);
  const erase = Array.from({ length: nErase }, () => ({ input: random.normalArray64(d), target: random.normalArray64(d), scale: scale() }));
  const preserve = Array.from({ length: nPreserve }, () => ({ input: random.normalArray64(d), scale: scale() }));
  return { problem: { width: d, lambda, erase, preserve }, erase, preserve };
}

/** M = B A^-1 straight from the definition, inverted by Gauss-Jordan. */
function referenceM(f: Fixture, lambda: number, d: number): Matrix {
  const a = sumOfOuterProducts(d, lambda, [
    ...f.erase.map((c) => ({ x: c.input, y: c.input, s: c.scale })),
    ...f.preserve.map((c) => ({ x: c.input, y: c.input, s: c.scale })),
  ]);
  const b = sumOfOuterProducts(d, lambda, [
    ...f.erase.map((c) => ({ x: c.target, y: c.input, s: c.scale })),
    ...f.preserve.map((c) => ({ x: c.input, y: c.input, s: c.scale })),
  ]);
  return multiply(b, invert(a));
}

function randomWeight(seed: number, out: number, d: number): Float32Array {
  return new SeededRandom(seed).normalArray(out * d, 0.05);
}

describe('closed-form edit operator', () => {
  test.each([
    [37, 4, 6, 0.5],
    [48, 1, 0, 0.5],
    [29, 7, 30, 0.1],
  ])('M matches B A^-1 by Gauss-Jordan (d=%i, n_e=%i, n_p=%i, lambda=%f)', (d, nErase, nPreserve, lambda) => {
    const f = fixture(d + nErase, d, nErase, nPreserve, lambda);
    const m = editOperatorMatrix(solveEditOperator(f.problem));
    expect(maxRelativeError(m, referenceM(f, lambda, d).data)).toBeLessThan(1e-10);
  });

  test('U V^T reproduces M - I, so M - I has rank <= n_e', () => {
    const d = 37;
    const f = fixture(3, d, 5, 9, 0.5);
    const operator = solveEditOperator(f.problem);
    expect(operator.rank).toBe(5);
    const uvt = multiply(matrix(d, 5, operator.u), matrix(5, d, operator.vt));
    const mMinusI = subtract(referenceM(f, 0.5, d), identity(d));
    expect(maxRelativeError(uvt.data, mMinusI.data)).toBeLessThan(1e-10);
    // Independent rank check: eigenvalues of (M - I)(M - I)^T beyond n_e vanish.
    const eigenvalues = symmetricEigenvalues(multiply(mMinusI, transpose(mMinusI)));
    expect(eigenvalues[4]).toBeGreaterThan(1e-8 * eigenvalues[0]);
    for (const value of eigenvalues.slice(5)) expect(Math.abs(value)).toBeLessThan(1e-12 * eigenvalues[0]);
  });

  test('the per-projection W\' agrees across the low-rank, dense-M and direct per-layer paths and the reference', () => {
    const d = 41;
    const f = fixture(11, d, 6, 12, 0.5);
    const operator = solveEditOperator(f.problem);
    const m = editOperatorMatrix(operator);
    const mRef = referenceM(f, 0.5, d);
    for (const [index, out] of [20, 33, 64].entries()) {
      const w = randomWeight(100 + index, out, d);
      const want = multiply(matrix(out, d, w), mRef).data;
      const lowRank = applyEditOperator(operator, w, out);
      const dense = applyEditMatrix(m, d, w, out);
      const direct = solveLayerDirect(f.problem, w, out);
      expect(lowRank).toBeInstanceOf(Float32Array);
      expect(maxRelativeError(lowRank, want)).toBeLessThan(1e-5);
      expect(maxRelativeError(dense, want)).toBeLessThan(1e-5);
      expect(maxRelativeError(direct, want)).toBeLessThan(1e-5);
    }
  });

  test('at d = 768 with SD-like counts the shared solve agrees with the direct per-layer solve', () => {
    const d = 768;
    const f = fixture(5, d, 11, 40, 0.5, false);
    const operator = solveEditOperator(f.problem);
    const w = randomWeight(6, 12, d);
    const direct = solveLayerDirect(f.problem, w, 12);
    expect(maxRelativeError(applyEditOperator(operator, w, 12), direct)).toBeLessThan(1e-5);
    const lora = exactLora(operator, w, 12);
    const delta = multiply(matrix(12, 11, lora.up), matrix(11, d, lora.down)).data;
    expect(maxRelativeError(delta.map((x, i) => x + w[i]), direct)).toBeLessThan(1e-5);
  });

  test('the exact LoRA (up = W U, down = V^T) reproduces W\' - W, and W\' - W has rank <= n_e', () => {
    const d = 30;
    const out = 24;
    const f = fixture(21, d, 3, 5, 0.5);
    const operator = solveEditOperator(f.problem);
    const w = randomWeight(22, out, d);
    const lora = exactLora(operator, w, out);
    expect([lora.rank, lora.up.length, lora.down.length]).toEqual([3, out * 3, 3 * d]);
    const want = subtract(multiply(matrix(out, d, w), referenceM(f, 0.5, d)), matrix(out, d, w));
    const got = multiply(matrix(out, 3, lora.up), matrix(3, d, lora.down));
    expect(maxRelativeError(got.data, want.data)).toBeLessThan(1e-5);
    const eigenvalues = symmetricEigenvalues(multiply(want, transpose(want)));
    for (const value of eigenvalues.slice(3)) expect(Math.abs(value)).toBeLessThan(1e-12 * eigenvalues[0]);
  });

  test('preserved vectors move less than 1e-3 (relative) with small lambda and few constraints', () => {
    const d = 48;
    const out = 40;
    const f = fixture(31, d, 3, 5, 1e-4);
    const w = randomWeight(32, out, d);
    const edited = applyEditOperator(solveEditOperator(f.problem), w, out);
    for (const { input } of f.preserve) {
      const before = applyToVector(w, out, d, input);
      const after = applyToVector(edited, out, d, input);
      expect(maxRelativeError(after, before)).toBeLessThan(1e-3);
    }
  });

  test('erase vectors land on their anchors\' outputs as lambda -> 0', () => {
    const d = 48;
    const out = 40;
    const w = randomWeight(42, out, d);
    const worst = [1e-1, 1e-3, 1e-6].map((lambda) => {
      const f = fixture(41, d, 4, 6, lambda);
      const edited = applyEditOperator(solveEditOperator(f.problem), w, out);
      return Math.max(...f.erase.map(({ input, target }) => maxRelativeError(applyToVector(edited, out, d, input), applyToVector(w, out, d, target))));
    });
    expect(worst[2]).toBeLessThan(1e-4);
    expect(worst[0]).toBeGreaterThan(worst[1]);
    expect(worst[1]).toBeGreaterThan(worst[2]);
  });

  test('editing the embedding once equals editing the weight: W (M e) = W\' e', () => {
    const d = 33;
    const tokens = 5;
    const f = fixture(51, d, 2, 4, 0.5);
    const operator = solveEditOperator(f.problem);
    const embedding = new SeededRandom(52).normalArray(tokens * d);
    const edited = editTextEmbedding(operator, embedding, tokens);
    const mRef = referenceM(f, 0.5, d);
    const want = transpose(multiply(mRef, transpose(matrix(tokens, d, embedding)))).data;
    expect(maxRelativeError(edited, want)).toBeLessThan(1e-5);
  });

  test('problem-level scales fill constraints without one (UCE and RealEra presets)', () => {
    const d = 20;
    const base = fixture(61, d, 2, 3, 0.5, false);
    for (const preset of [UCE_CLOSED_FORM, REALERA_CLOSED_FORM]) {
      const problem: ClosedFormProblem = {
        ...preset,
        width: d,
        erase: base.erase.map(({ input, target }) => ({ input, target })),
        preserve: base.preserve.map(({ input }) => ({ input })),
      };
      const withScales: Fixture = {
        problem,
        erase: base.erase.map((c) => ({ ...c, scale: preset.eraseScale })),
        preserve: base.preserve.map((c) => ({ ...c, scale: preset.preserveScale })),
      };
      const m = editOperatorMatrix(solveEditOperator(problem));
      expect(maxRelativeError(m, referenceM(withScales, preset.lambda, d).data)).toBeLessThan(1e-10);
    }
    expect(REALERA_CLOSED_FORM.preserveScale).toBe(0.1);
    expect(UCE_CLOSED_FORM).toEqual({ lambda: 0.5, eraseScale: 1, preserveScale: 1 });
  });

  test('bad input is an InputError naming the field', () => {
    const f = fixture(71, 10, 2, 2, 0.5);
    const bad = (problem: ClosedFormProblem): (() => unknown) => () => solveEditOperator(problem);
    expect(bad({ ...f.problem, erase: [f.erase[0], { input: f.erase[1].input, target: new Float64Array(9) }] })).toThrow(/erase\[1\]\.target: expected 10 values/);
    expect(bad({ ...f.problem, preserve: [{ input: f.preserve[0].input, scale: -1 }] })).toThrow(/preserve\[0\]\.scale/);
    expect(bad({ ...f.problem, lambda: Number.NaN })).toThrow(/lambda/);
    expect(bad({ ...f.problem, lambda: 0 })).toThrow(InputError);
    expect(bad({ ...f.problem, lambda: 0 })).toThrow(/not positive definite.*lambda > 0/);
    const erase0 = { input: Float64Array.from(f.erase[0].input), target: f.erase[0].target };
    erase0.input[3] = Number.POSITIVE_INFINITY;
    expect(bad({ ...f.problem, erase: [erase0] })).toThrow(/erase\[0\]\.input: value 3/);
    const operator = solveEditOperator(f.problem);
    expect(() => applyEditOperator(operator, new Float32Array(31), 3)).toThrow(/weight: expected 3x10/);
  });
});
