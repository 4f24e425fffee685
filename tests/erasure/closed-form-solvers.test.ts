import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../src/util/random.ts';
import { InputError } from '../../src/util/errors.ts';
import {
  cheaperSolver,
  ConditionError,
  editOperatorMatrix,
  solveEditOperator,
  solverCost,
  type ClosedFormProblem,
  type ClosedFormSolver,
} from '../../src/erasure/closed-form.ts';
import { resolveProblem } from '../../src/erasure/closed-form-problem.ts';
import { choleskyEditRows } from '../../src/erasure/closed-form-cholesky.ts';
import { woodburyEditRows } from '../../src/erasure/closed-form-woodbury.ts';
import { rowGram } from '../../src/erasure/linalg/gram.ts';
import { exactEditRows } from './exact-reference.ts';
import { maxRelativeError } from './reference-linalg.ts';

const VECTOR_BITS = 6;
const SCALAR_BITS = 44;

/** Vectors of multiples of 2^-6 and scales of multiples of 1/4, so the exact reference applies. */
function dyadicProblem(seed: number, d: number, nErase: number, nPreserve: number, lambda: number, zeroScaleErase = false) {
  const random = new SeededRandom(seed);
  const vector = () => Float64Array.from({ length: d }, () => Math.round(random.normal() * 2 ** VECTOR_BITS) / 2 ** VECTOR_BITS);
  const scale = () => (1 + Math.floor(random.uniform() * 8)) / 4;
  const erase = Array.from({ length: nErase }, (_, k) => ({ input: vector(), target: vector(), scale: zeroScaleErase && k === 1 ? 0 : scale() }));
  const preserve = Array.from({ length: nPreserve }, () => ({ input: vector(), scale: scale() }));
  const all = [...erase, ...preserve];
  const problem: ClosedFormProblem = { width: d, lambda, erase, preserve };
  const exact = () => exactEditRows(d, lambda, all.map((c) => c.input), all.map((c) => c.scale), nErase, VECTOR_BITS, SCALAR_BITS);
  return { problem, exact };
}

const TINY = 2 ** -40;
const LARGE = 2 ** 14;
const d = 24;

describe('closed-form solvers against an exact rational solve', () => {
  // [label, n_e, n_p, lambda, which named solvers may be trusted]
  const cases: [string, number, number, number, ClosedFormSolver[]][] = [
    ['n < d, tiny lambda', 3, 5, TINY, ['woodbury']],
    ['n < d, lambda 0.5', 3, 5, 0.5, ['woodbury', 'cholesky']],
    ['n < d, large lambda', 3, 5, LARGE, ['woodbury', 'cholesky']],
    ['n = d, tiny lambda', 4, 20, TINY, ['woodbury', 'cholesky']],
    ['n = d, lambda 0.5', 4, 20, 0.5, ['woodbury', 'cholesky']],
    ['n > d, tiny lambda', 3, 40, TINY, ['cholesky']],
    ['n > d, lambda 0.5', 3, 40, 0.5, ['woodbury', 'cholesky']],
    ['n > d, large lambda', 3, 40, LARGE, ['woodbury', 'cholesky']],
  ];

  test.each(cases)('%s: trusted solvers and auto agree to 1e-8, the other refuses', (_, nErase, nPreserve, lambda, trusted) => {
    const { problem, exact } = dyadicProblem(100 + nErase + nPreserve, d, nErase, nPreserve, lambda);
    const want = exact();
    for (const solver of ['woodbury', 'cholesky'] as const) {
      if (trusted.includes(solver)) {
        const operator = solveEditOperator(problem, { solver });
        expect(operator.solver).toBe(solver);
        expect(maxRelativeError(operator.vt, want)).toBeLessThan(1e-8);
      } else {
        expect(() => solveEditOperator(problem, { solver })).toThrow(ConditionError);
      }
    }
    const auto = solveEditOperator(problem);
    expect(trusted).toContain(auto.solver);
    expect(maxRelativeError(auto.vt, want)).toBeLessThan(1e-8);
  });

  test('the refusals are needed: the untrusted solver really is off by far more than 1e-8', () => {
    const few = dyadicProblem(108, d, 3, 5, TINY);
    const choleskyError = maxRelativeError(choleskyEditRows(resolveProblem(few.problem)).vt, few.exact());
    expect(choleskyError).toBeGreaterThan(1e-5);
    const many = dyadicProblem(143, d, 3, 40, TINY);
    const woodburyError = maxRelativeError(woodburyEditRows(resolveProblem(many.problem)).vt, many.exact());
    expect(woodburyError).toBeGreaterThan(1e-5);
  });

  test('an erase constraint with scale 0 (outside B) takes the subtraction form and still matches', () => {
    const { problem, exact } = dyadicProblem(7, d, 3, 6, 0.5, true);
    const rows = woodburyEditRows(resolveProblem(problem));
    expect(maxRelativeError(rows.vt, exact())).toBeLessThan(1e-8);
    expect(maxRelativeError(solveEditOperator(problem, { solver: 'cholesky' }).vt, exact())).toBeLessThan(1e-8);
  });

  test('a Gram off by float32 rounding is repaired by iterative refinement against float64 residuals', () => {
    const { problem, exact } = dyadicProblem(9, d, 3, 12, 2 ** -8);
    const resolved = resolveProblem(problem);
    // Dyadic Grams are exact in float32, so perturb each entry (symmetrically) by ~1 float32 ulp.
    const n = resolved.count;
    const rough = rowGram(resolved.inputs, n, d);
    const noise = new SeededRandom(10);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        const value = rough[i * n + j] * (1 + 2 ** -23 * (noise.uniform() - 0.5));
        rough[i * n + j] = value;
        rough[j * n + i] = value;
      }
    const want = exact();
    const unrefined = woodburyEditRows(resolved, { gram: rough, maxRefinementSteps: 0 });
    const refined = woodburyEditRows(resolved, { gram: rough });
    expect(maxRelativeError(unrefined.vt, want)).toBeGreaterThan(1e-9);
    expect(refined.refinementSteps).toBeGreaterThan(0);
    expect(refined.relativeResidual).toBeLessThan(1e-14);
    expect(maxRelativeError(refined.vt, want)).toBeLessThan(1e-12);
  });
});

describe('solver choice', () => {
  test('the cost rule picks Woodbury at SD 1.5 sizes and Cholesky once n passes ~d', () => {
    expect(cheaperSolver(768, 214, 11)).toBe('woodbury');
    expect(solverCost('cholesky', 768, 214, 11) / solverCost('woodbury', 768, 214, 11)).toBeGreaterThan(5);
    expect(cheaperSolver(768, 1000, 11)).toBe('cholesky');
    // The crossover lies just below n = d.
    let crossover = 1;
    while (cheaperSolver(768, crossover, 11) === 'woodbury') crossover++;
    expect(crossover).toBeGreaterThan(600);
    expect(crossover).toBeLessThanOrEqual(768);
  });

  test('both solvers give the same M at d = 96 on random (non-dyadic) data', () => {
    const random = new SeededRandom(3);
    const problem: ClosedFormProblem = {
      width: 96,
      lambda: 0.5,
      erase: Array.from({ length: 5 }, () => ({ input: random.normalArray64(96), target: random.normalArray64(96) })),
      preserve: Array.from({ length: 30 }, () => ({ input: random.normalArray64(96), scale: 0.1 })),
    };
    const woodbury = solveEditOperator(problem);
    expect(woodbury.solver).toBe('woodbury');
    const cholesky = solveEditOperator(problem, { solver: 'cholesky' });
    expect(maxRelativeError(editOperatorMatrix(woodbury), editOperatorMatrix(cholesky))).toBeLessThan(1e-12);
  });

  test('lambda 0 and unknown solvers are InputErrors naming the field', () => {
    const { problem } = dyadicProblem(5, d, 2, 3, 0);
    expect(() => solveEditOperator(problem, { solver: 'woodbury' })).toThrow(/lambda > 0/);
    expect(() => solveEditOperator(problem)).toThrow(/lambda: .*not positive definite/);
    expect(() => solveEditOperator(problem, { solver: 'qr' as ClosedFormSolver })).toThrow(InputError);
    expect(() => solveEditOperator(problem, { solver: 'qr' as ClosedFormSolver })).toThrow(/solver: expected/);
  });
});
