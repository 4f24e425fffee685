/**
 * Timing of LoRA export/import at SD 1.5 sizes (not a test; run with
 * `npx tsx bench/lora-export-timing.node.ts`).
 * 16 layers x (to_k, to_v) = 32 projections of 320/640/1280 x 768, n_e = 11 erase vectors.
 */
import { solveEditOperator } from '../src/erasure/closed-form.ts';
import { lowRankWithin, randomizedSvd } from '../src/erasure/linalg/randomized-svd.ts';
import { exportEditAsLora } from '../src/erasure/lora-export.ts';
import { importLoraFile } from '../src/erasure/lora-import.ts';
import { truncateLora } from '../src/erasure/lora-truncation.ts';
import { exactLora } from '../src/erasure/closed-form.ts';
import { SeededRandom } from '../src/util/random.ts';
import { blockWidths, crossAttentionLayers, PACK_SHA, sampleRecipe } from '../tests/erasure/lora-export-fixtures.ts';

const d = 768;
const random = new SeededRandom(7);
const operator = solveEditOperator(
  {
    width: d,
    lambda: 0.5,
    erase: Array.from({ length: 11 }, () => ({ input: random.normalArray64(d), target: random.normalArray64(d) })),
    preserve: Array.from({ length: 203 }, () => ({ input: random.normalArray64(d) })),
  },
  { solver: 'woodbury' },
);
const widths = blockWidths(1);
const layers = crossAttentionLayers(widths, d);
const host = widths.map((out) => ({ toK: random.normalArray(out * d, 0.02), toV: random.normalArray(out * d, 0.02) }));
const input = { operator, layers, host, recipe: sampleRecipe(), packSha256: PACK_SHA, family: 'sd15' as const };

function time<T>(label: string, run: () => T, repeats = 3): T {
  let result!: T;
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    result = run();
    times.push(performance.now() - start);
  }
  console.log(`${label.padEnd(62)} ${Math.min(...times).toFixed(1).padStart(8)} ms (best of ${repeats})`);
  return result;
}

const projections = layers.flatMap((layer, i) => [
  { out: layer.toK.shape[0], weight: host[i].toK },
  { out: layer.toV.shape[0], weight: host[i].toV },
]);
const factors = time('exactLora x 32 (up = W U, float64)', () => projections.map(({ out, weight }) => exactLora(operator, weight, out)));
for (const rank of [1, 4, 8]) {
  const truncated = time(`truncateLora x 32 to rank ${rank} (QR + ${operator.rank}x${operator.rank} SVD)`, () => factors.map((f) => truncateLora(f, rank)));
  console.log(`  worst relative error at rank ${rank}: ${Math.max(...truncated.map((t) => t.relativeError)).toExponential(3)}`);
}
for (const [convention, rank, dtype] of [
  ['kohya', 'exact', 'fp32'],
  ['kohya', 'exact', 'fp16'],
  ['diffusers', 4, 'fp16'],
] as const) {
  const result = time(`exportEditAsLora ${convention} rank ${rank} ${dtype} (all of it)`, () => exportEditAsLora(input, { convention, rank, dtype }));
  console.log(`  ${result.fileName}: ${(result.bytes.length / 1024).toFixed(0)} KiB, worst error ${result.worstRelativeError.toExponential(3)}`);
  time(`importLoraFile of it`, () => importLoraFile(result.bytes, result.fileName, 1, { layers, family: 'sd15' }));
}

// A dense difference, as a `.diff` key would bring: rank 40 plus small noise, 1280 x 768.
const out = 1280;
const lowRank = new Float64Array(out * d);
const x = random.normalArray64(out * 40);
const y = random.normalArray64(40 * d);
for (let i = 0; i < out; i++)
  for (let k = 0; k < 40; k++) {
    const value = x[i * 40 + k] * 0.9 ** k;
    for (let j = 0; j < d; j++) lowRank[i * d + j] += value * y[k * d + j];
  }
const noisy = lowRank.map((v) => v + 1e-5 * random.normal());
const fixed = time('randomizedSvd 1280 x 768 to rank 32 (l = 40, q = 2)', () => randomizedSvd({ rows: out, cols: d, data: noisy }, 32, { seed: 1 }), 2);
console.log(`  relative error ${fixed.relativeError.toExponential(3)}`);
const adaptive = time('lowRankWithin 1e-3, 1280 x 768 (rank-40 + noise)', () => lowRankWithin({ rows: out, cols: d, data: noisy }, 1e-3, { seed: 1, maxRank: 64 })!, 2);
console.log(`  rank ${adaptive.rank}, relative error ${adaptive.relativeError.toExponential(3)}`);
const full = random.normalArray(out * d);
time('lowRankWithin 1e-3, 1280 x 768 full-rank noise (gives up at 64: null)', () => lowRankWithin({ rows: out, cols: d, data: full }, 1e-3, { seed: 1, maxRank: 64 }), 1);

