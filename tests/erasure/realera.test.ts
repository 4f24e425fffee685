import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../src/util/random.ts';
import { InputError } from '../../src/util/errors.ts';
import {
  radiusScaleForEncoder,
  REALERA_DEFAULTS,
  RealEraWindowError,
  sampleRealEra,
  SD1X_REFERENCE_EMBEDDING_NORM,
  type RealEraSamples,
} from '../../src/erasure/realera.ts';

const norm = (x: ArrayLike<number>): number => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0));
const difference = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from(a, (v, i) => v - b[i]);
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let dotProduct = 0;
  for (let i = 0; i < a.length; i++) dotProduct += a[i] * b[i];
  return dotProduct / (norm(a) * norm(b));
};

/** An SD 1.x-sized embedding with unit-RMS entries, like a layer-normed CLIP output. */
function embedding(seed: number, size = 77 * 768): Float64Array {
  return new SeededRandom(seed).normalArray64(size);
}

function expectConstraints(samples: RealEraSamples, e: Float64Array, eStar: Float64Array, scale: number): void {
  const { s1, s2, d1, d2, d1Anchor } = samples.options;
  for (const neighbor of samples.neighbors) {
    const eta = difference(neighbor.erase, e);
    const etaAnchor = difference(neighbor.anchor, eStar);
    expect(norm(eta)).toBeLessThan(d1 * scale);
    expect(Math.abs(norm(eta) - neighbor.radius)).toBeLessThan(1e-9 * d1 * scale);
    const c = cosine(e, neighbor.erase);
    expect(c).toBeGreaterThanOrEqual(s2);
    expect(c).toBeLessThanOrEqual(s1);
    expect(Math.abs(c - neighbor.cosine)).toBeLessThan(1e-12);
    expect(norm(etaAnchor)).toBeLessThan(d1Anchor * scale);
    // Algorithm 1: eta' = r' v^ shares the direction of eta.
    if (neighbor.anchorRadius > 1e-9) expect(cosine(eta, etaAnchor)).toBeGreaterThan(1 - 1e-12);
  }
  for (const sample of samples.beyond) {
    const r = norm(difference(sample.embedding, e));
    expect(r).toBeGreaterThanOrEqual(d1 * scale * (1 - 1e-12));
    expect(r).toBeLessThan(d2 * scale);
    expect(cosine(e, sample.embedding)).toBeLessThan(s2);
  }
}

describe('RealEra sampling (Algorithm 1)', () => {
  test('defaults on an SD 1.x-sized embedding: M neighbors in the window, N beyond it', () => {
    const e = embedding(1);
    const eStar = embedding(2);
    const samples = sampleRealEra(e, eStar, new SeededRandom(3));
    expect(samples.neighbors).toHaveLength(REALERA_DEFAULTS.m);
    expect(samples.beyond).toHaveLength(REALERA_DEFAULTS.n);
    expect(samples.tries.neighbors).toBeGreaterThanOrEqual(5);
    expectConstraints(samples, e, eStar, 1);
  });

  test('each draw is v ~ N(0, I), then r ~ U[0, D1), then r\' ~ U[0, D1\'), with v^ = (v - e)/|v - e|', () => {
    const size = 50;
    const e = new SeededRandom(10).normalArray64(size, 3);
    const eStar = new SeededRandom(11).normalArray64(size);
    const options = { s1: 1, s2: -1, m: 1, n: 0, d1: 5, d1Anchor: 2 };
    const samples = sampleRealEra(e, eStar, new SeededRandom(12), options);
    const random = new SeededRandom(12);
    const v = random.normalArray64(size);
    const r = random.uniformIn(0, 5);
    const rAnchor = random.uniformIn(0, 2);
    const direction = difference(v, e);
    const length = norm(direction);
    const wantErase = Float64Array.from(e, (x, i) => x + (r * direction[i]) / length);
    const wantAnchor = Float64Array.from(eStar, (x, i) => x + (rAnchor * direction[i]) / length);
    const [neighbor] = samples.neighbors;
    for (let i = 0; i < size; i++) {
      expect(neighbor.erase[i]).toBeCloseTo(wantErase[i], 12);
      expect(neighbor.anchor[i]).toBeCloseTo(wantAnchor[i], 12);
    }
  });

  test('the same seed gives the same samples; another seed does not', () => {
    const e = embedding(4, 4000);
    const eStar = embedding(5, 4000);
    const options = { radiusScale: radiusScaleForEncoder(norm(e)) };
    const a = sampleRealEra(e, eStar, new SeededRandom(6), options);
    const b = sampleRealEra(e, eStar, new SeededRandom(6), options);
    const c = sampleRealEra(e, eStar, new SeededRandom(7), options);
    expect(b.neighbors.map((x) => Array.from(x.erase))).toEqual(a.neighbors.map((x) => Array.from(x.erase)));
    expect(b.neighbors.map((x) => Array.from(x.anchor))).toEqual(a.neighbors.map((x) => Array.from(x.anchor)));
    expect(b.beyond.map((x) => Array.from(x.embedding))).toEqual(a.beyond.map((x) => Array.from(x.embedding)));
    expect(c.neighbors[0].erase).not.toEqual(a.neighbors[0].erase);
  });

  test('radii scale with the embedding norm: an SD 2.x-sized (77 x 1024) embedding meets the same windows', () => {
    const e = embedding(8, 77 * 1024);
    const eStar = embedding(9, 77 * 1024);
    const scale = radiusScaleForEncoder(norm(e));
    expect(scale).toBeGreaterThan(1.1);
    expect(SD1X_REFERENCE_EMBEDDING_NORM).toBeCloseTo(Math.sqrt(77 * 768), 10);
    const samples = sampleRealEra(e, eStar, new SeededRandom(10), { radiusScale: scale });
    expect(samples.neighbors).toHaveLength(5);
    expectConstraints(samples, e, eStar, scale);
  });

  test('every parameter is adjustable', () => {
    const e = embedding(12, 3000);
    const eStar = embedding(13, 3000);
    const options = { s1: 0.95, s2: 0.3, m: 7, n: 4, d1: 60, d2: 200, d1Anchor: 10 };
    const samples = sampleRealEra(e, eStar, new SeededRandom(14), options);
    expect(samples.neighbors).toHaveLength(7);
    expect(samples.beyond).toHaveLength(4);
    expect(samples.options).toMatchObject(options);
    expectConstraints(samples, e, eStar, 1);
  });

  test('a window that cannot be met raises a RealEraWindowError saying which parameter to change', () => {
    const e = embedding(15, 64);
    const eStar = embedding(16, 64);
    const tooClose = (): unknown => sampleRealEra(e, eStar, new SeededRandom(17), { d1: 1e-3, maxTries: 50 });
    expect(tooClose).toThrow(RealEraWindowError);
    expect(tooClose).toThrow(/found 0 of m = 5 neighbors.*maxTries = 50.*above s1: raise d1/);
    const tooFar = (): unknown => sampleRealEra(e, eStar, new SeededRandom(17), { d1: 1e4, d2: 2e4, s2: 0.5, maxTries: 50 });
    expect(tooFar).toThrow(/below s2: lower d1/);
    const beyondTooClose = (): unknown =>
      sampleRealEra(e, eStar, new SeededRandom(17), { s1: 1, s2: -1, d1: 1e-3, d2: 2e-3, maxTries: 50 });
    expect(beyondTooClose).toThrow(/beyond-concept samples.*raise d1 and d2/);
  });

  test('bad options and inputs are InputErrors naming the field', () => {
    const e = embedding(18, 16);
    const random = new SeededRandom(19);
    expect(() => sampleRealEra(e, e, random, { s2: 0.95 })).toThrow(/s2: expected a cosine in \[-1, s1 = 0.9\]/);
    expect(() => sampleRealEra(e, e, random, { d2: 100 })).toThrow(/d2: expected a finite number > d1 = 400/);
    expect(() => sampleRealEra(e, e, random, { m: 1.5 })).toThrow(/m: expected an integer/);
    expect(() => sampleRealEra(e, e, random, { radiusScale: 0 })).toThrow(/radiusScale/);
    expect(() => sampleRealEra(e, e, random, { D1: 3 } as never)).toThrow(/D1: unknown option/);
    expect(() => sampleRealEra(e, new Float64Array(15), random)).toThrow(/anchor: expected 16 values/);
    expect(() => sampleRealEra(new Float64Array(16), e, random)).toThrow(InputError);
    expect(() => radiusScaleForEncoder(-1)).toThrow(/embeddingNorm/);
  });
});
