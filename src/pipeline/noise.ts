import { InputError } from '../util/errors.ts';

/*
 * Deterministic Gaussian noise for sampling and training.
 *
 * Every value is a pure function of (seed, stream, index, position): Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) turns the counter
 * [position / 4, index, stream, 0] under the key [seed low 32 bits, seed high bits] into four
 * uniform words, and Box-Muller turns each pair into two normals. Nothing depends on call
 * order: the noise of sampler step 7 is the same whether or not steps 0-6 drew any, and the
 * first image of a batch gets the same latents as a batch of one.
 *
 * Why not SeededRandom (src/util/random.ts): it is a sequential stream, and its Box-Muller
 * uses Math.log / Math.cos, whose results ECMAScript leaves to each engine. Here log, sin and
 * cos are short series in + - * / only, which IEEE 754 rounds the same everywhere, so the
 * numbers are bit-identical on every machine and JS engine.
 */

/** Counter word 2: which consumer a stream of noise belongs to. */
export const NoiseStream = {
  /** The starting latents of a generation (index 0). */
  initialLatents: 0,
  /** Fresh noise of ancestral / eta > 0 sampler steps (index = step index). */
  samplerStep: 1,
  /** Training noise (index = training iteration). */
  training: 2,
} as const;
export type NoiseStreamId = (typeof NoiseStream)[keyof typeof NoiseStream];

const TWO_POW_32 = 4294967296;
const MAX_LENGTH = 4 * TWO_POW_32;

/** `length` standard normals (float32) for (seed, stream, index). */
export function gaussianNoise(seed: number, stream: number, index: number, length: number, scale = 1): Float32Array {
  checkSeed(seed);
  checkWord('stream', stream);
  checkWord('index', index);
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) {
    throw new InputError(`noise length: got ${length}, expected an integer in [0, ${MAX_LENGTH}]`);
  }
  const keyLow = seed % TWO_POW_32;
  const keyHigh = Math.floor(seed / TWO_POW_32);
  const out = new Float32Array(length);
  const words = new Uint32Array(4);
  for (let block = 0; block * 4 < length; block++) {
    philox4x32(block, index, stream, 0, keyLow, keyHigh, words);
    const base = block * 4;
    boxMuller(words[0], words[1], out, base, length, scale);
    boxMuller(words[2], words[3], out, base + 2, length, scale);
  }
  return out;
}

/** Starting latents [batch, channels, height/8, width/8] for a seed, times the scheduler's initNoiseSigma. */
export function initialLatents(seed: number, shape: readonly [number, number, number, number], initNoiseSigma = 1): Float32Array {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new InputError(`latent shape: got [${shape.join(', ')}], expected 4 positive integers [batch, channels, height, width]`);
  }
  if (!(Number.isFinite(initNoiseSigma) && initNoiseSigma > 0)) {
    throw new InputError(`initNoiseSigma: got ${initNoiseSigma}, expected a positive number`);
  }
  return gaussianNoise(seed, NoiseStream.initialLatents, 0, shape[0] * shape[1] * shape[2] * shape[3], initNoiseSigma);
}

/** The fresh noise a stochastic sampler adds on step `stepIndex`. */
export function samplerStepNoise(seed: number, stepIndex: number, length: number): Float32Array {
  return gaussianNoise(seed, NoiseStream.samplerStep, stepIndex, length);
}

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Philox4x32 with 10 rounds: the four output words go to `out`. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + PHILOX_W0) >>> 0;
      key1 = (key1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulHigh(PHILOX_M0, x0);
    const lo0 = Math.imul(PHILOX_M0, x0) >>> 0;
    const hi1 = mulHigh(PHILOX_M1, x2);
    const lo1 = Math.imul(PHILOX_M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

/** High 32 bits of the 64-bit product of two uint32 (16-bit limbs keep every partial exact). */
function mulHigh(a: number, b: number): number {
  const aLow = a & 0xffff;
  const aHigh = a >>> 16;
  const bLow = b & 0xffff;
  const bHigh = b >>> 16;
  const lowLow = aLow * bLow;
  const lowHigh = aLow * bHigh;
  const highLow = aHigh * bLow;
  const carry = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff);
  return (aHigh * bHigh + (lowHigh >>> 16) + (highLow >>> 16) + Math.floor(carry / 65536)) >>> 0;
}

/** Two normals from two uniform words; the radius word is offset by 1/2 so log never sees 0. */
function boxMuller(radiusWord: number, angleWord: number, out: Float32Array, at: number, length: number, scale: number): void {
  const radius = Math.sqrt(-2 * portableLog((radiusWord + 0.5) / TWO_POW_32)) * scale;
  const angleTurns = angleWord / TWO_POW_32;
  const [cos, sin] = portableCosSinTurns(angleTurns);
  if (at < length) out[at] = radius * cos;
  if (at + 1 < length) out[at + 1] = radius * sin;
}

const LOG_TERMS = 12;

/** Natural log of a positive finite x from + - * / only (error ~1e-16 relative). */
export function portableLog(x: number): number {
  if (!(x > 0 && x < Infinity)) throw new RangeError(`portableLog: expected a positive finite number, got ${x}`);
  // Bring x into [sqrt(1/2), sqrt(2)) by exact powers of two.
  let exponent = 0;
  let m = x;
  while (m >= Math.SQRT2) {
    m *= 0.5;
    exponent++;
  }
  while (m < Math.SQRT1_2) {
    m *= 2;
    exponent--;
  }
  // log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172: 12 odd terms reach double precision.
  const s = (m - 1) / (m + 1);
  const z = s * s;
  let series = 1 / (2 * LOG_TERMS - 1);
  for (let k = LOG_TERMS - 2; k >= 0; k--) series = series * z + 1 / (2 * k + 1);
  return exponent * Math.LN2 + 2 * s * series;
}

const HALF_PI = Math.PI / 2;

/** [cos, sin] of 2 pi * turns, for turns in [0, 1), from + - * / only (error ~1e-16). */
export function portableCosSinTurns(turns: number): [number, number] {
  // Quarter turns are exact in binary; what remains is an angle in [-pi/4, pi/4].
  const quarters = turns * 4;
  let quadrant = Math.floor(quarters);
  let fraction = quarters - quadrant;
  if (fraction >= 0.5) {
    fraction -= 1;
    quadrant += 1;
  }
  const a = fraction * HALF_PI;
  const a2 = a * a;
  // Nested Taylor series, 10 terms each: the last term is below 1e-19 for |a| <= pi/4.
  let sinSeries = 1;
  let cosSeries = 1;
  for (let k = 10; k >= 1; k--) {
    sinSeries = 1 - (a2 / ((2 * k) * (2 * k + 1))) * sinSeries;
    cosSeries = 1 - (a2 / ((2 * k - 1) * (2 * k))) * cosSeries;
  }
  const sin = a * sinSeries;
  const cos = cosSeries;
  switch (quadrant & 3) {
    case 0:
      return [cos, sin];
    case 1:
      return [-sin, cos];
    case 2:
      return [-cos, -sin];
    default:
      return [sin, -cos];
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InputError(`seed: got ${seed}, expected an integer in [0, ${Number.MAX_SAFE_INTEGER}]`);
  }
}

function checkWord(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    throw new InputError(`noise ${name}: got ${value}, expected an integer in [0, ${TWO_POW_32 - 1}]`);
  }
}
