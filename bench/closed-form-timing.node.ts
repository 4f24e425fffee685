/**
 * Timing of the closed-form edit at SD 1.5 sizes (not a test; run with
 * `npx tsx bench/closed-form-timing.node.ts [--direct]`).
 * Problem: d = 768, 1 target + 5 corefs + M = 5 neighbors erased (11 erase vectors),
 * N = 3 beyond samples + 200 preserve vectors; 32 projections with SD 1.5's to_k/to_v shapes.
 */
import { SeededRandom } from '../src/util/random.ts';
import {
  applyEditMatrix,
  applyEditOperator,
  editOperatorMatrix,
  exactLora,
  solveEditOperator,
  solveLayerDirect,
  type ClosedFormProblem,
} from '../src/erasure/closed-form.ts';
import { choleskyFactor } from '../src/erasure/linalg/cholesky.ts';
import { truncateLora } from '../src/erasure/lora-truncation.ts';

const d = 768;
const random = new SeededRandom(7);
const vector = (): Float64Array => random.normalArray64(d);
const problem: ClosedFormProblem = {
  width: d,
  lambda: 0.5,
  erase: Array.from({ length: 11 }, () => ({ input: vector(), target: vector() })),
  preserve: Array.from({ length: 203 }, () => ({ input: vector() })),
};
// SD 1.5: 16 transformer blocks (down 2x320, 2x640, 2x1280; mid 1280; up 3x1280, 3x640, 3x320), to_k and to_v each.
const blockWidths = [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320];
const layers = blockWidths.flatMap((out) => [out, out]).map((out) => ({ out, weight: random.normalArray(out * d, 0.02) }));

const time = <T>(label: string, run: () => T): T => {
  const start = performance.now();
  const result = run();
  console.log(`${label}: ${((performance.now() - start) / 1000).toFixed(3)} s`);
  return result;
};

const spd = new Float64Array(d * d);
for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) spd[i * d + j] = (i === j ? d : 0) + Math.cos(i * j);
time('cholesky 768x768', () => choleskyFactor(spd, d));
time('cholesky 768x768 (again, warm)', () => choleskyFactor(spd, d));
time('shared solve, d x d Cholesky solver', () => solveEditOperator(problem, { solver: 'cholesky' }));
time('shared solve, d x d Cholesky solver (again, warm)', () => solveEditOperator(problem, { solver: 'cholesky' }));
time('shared solve, n x n Woodbury solver', () => solveEditOperator(problem, { solver: 'woodbury' }));
const operator = time('shared solve, auto (Woodbury), warm', () => solveEditOperator(problem));
console.log(`auto chose ${operator.solver}`);
const m = time('dense M = I + U V^T', () => editOperatorMatrix(operator));
time('apply low-rank W + (W U) V^T to 32 projections', () => layers.map((l) => applyEditOperator(operator, l.weight, l.out)));
time('exact LoRA (up = W U, down = V^T) for 32 projections', () => layers.map((l) => exactLora(operator, l.weight, l.out)));
const loras = layers.map((l) => exactLora(operator, l.weight, l.out));
time('truncate 32 exact LoRAs to rank 4', () => loras.map((lora) => truncateLora(lora, 4)));
time('apply dense W M to 32 projections', () => layers.map((l) => applyEditMatrix(m, d, l.weight, l.out)));
if (process.argv.includes('--direct')) time('direct per-layer solve for 32 projections', () => layers.map((l) => solveLayerDirect(problem, l.weight, l.out)));
