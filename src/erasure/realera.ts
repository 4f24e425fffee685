/**
 * RealEra neighbor-concept mining and beyond-concept regularization (Liu et al., Algorithm 1).
 *
 * For an erase embedding e (the flattened tokens x d prompt embedding) and its anchor e*:
 *   direction  v ~ N(0, I) (same size as e),  v^ = (v - e) / |v - e|
 *   neighbor   r ~ U[0, D1), r' ~ U[0, D1'),  eta = r v^,  eta' = r' v^;
 *              accepted when S2 <= cos(e, e + eta) <= S1; the pair (e + eta -> e* + eta')
 *              joins the erase set. M of them.
 *   beyond     l ~ U[D1, D2), eta = l v^; accepted when cos(e, e + eta) < S2; e + eta joins
 *              the preserve set at its own mapping. N of them.
 *
 * Readings of the paper, stated because the text and Algorithm 1 differ in places:
 * - The anchor perturbation eta' = r' v^ uses the SAME direction v^ as the erase perturbation
 *   (Algorithm 1, line 6), not an independent random direction; v^ points from e towards v,
 *   and is applied unchanged to e*. D1' is not given in the paper: 100 is our default.
 * - Eq. 6 sets a rejected eta to 0; Algorithm 1 instead redraws until M are accepted. We redraw.
 * - Algorithm 1 line 21 has a `break` inside the beyond loop, which would stop after one draw;
 *   that contradicts "we sample N points", so we read it as misplaced and draw until N.
 * - Each try draws, in this order, v (e.length normals), then r, then r' (neighbors) or l
 *   (beyond), from the one SeededRandom: the samples are a pure function of the seed.
 *
 * Scale: D1 = 400 and D2 = 800 are for SD 1.x's flattened 77 x 768 embedding. Because v has
 * norm ~sqrt(n), cos(e, e + r v^) depends (in high dimension) only on |e| / sqrt(n) and
 * r / |e|, so the radii transfer to another encoder by multiplying them by the ratio of its
 * typical embedding norm to SD 1.x's (`radiusScale`, see radiusScaleForEncoder).
 */
import { InputError } from '../util/errors.ts';
import type { SeededRandom } from '../util/random.ts';

export interface RealEraOptions {
  /** Upper cosine bound S1 for neighbors. */
  readonly s1: number;
  /** Lower cosine bound S2 for neighbors; beyond samples must fall below it. */
  readonly s2: number;
  /** M: neighbors per prompt. */
  readonly m: number;
  /** N: beyond-concept samples per prompt. */
  readonly n: number;
  /** Neighbor radius bound D1 (before radiusScale). */
  readonly d1: number;
  /** Beyond-concept radius bound D2 (before radiusScale). */
  readonly d2: number;
  /** Anchor perturbation radius bound D1' (before radiusScale). */
  readonly d1Anchor: number;
  /** Multiplies d1, d2 and d1Anchor; 1 for SD 1.x. */
  readonly radiusScale: number;
  /** Draws allowed per phase (neighbors, beyond) before giving up. */
  readonly maxTries: number;
}

export const REALERA_DEFAULTS: RealEraOptions = {
  s1: 0.9,
  s2: 0.5,
  m: 5,
  n: 3,
  d1: 400,
  d2: 800,
  d1Anchor: 100,
  radiusScale: 1,
  maxTries: 1000,
};

/**
 * Reference norm for the default radii: the norm of a flattened 77 x 768 embedding whose entries
 * have unit RMS, sqrt(77 * 768) ~ 243.2. SD 1.x's CLIP ViT-L/14 ends in a layer norm, so its
 * per-entry RMS is about 1 (not measured here: measure the real encoder's norm and pass it to
 * radiusScaleForEncoder; SD 1.x then gets a scale near 1).
 */
export const SD1X_REFERENCE_EMBEDDING_NORM = Math.sqrt(77 * 768);

/** radiusScale for an encoder whose typical flattened embedding norm is `embeddingNorm`. */
export function radiusScaleForEncoder(embeddingNorm: number, referenceNorm = SD1X_REFERENCE_EMBEDDING_NORM): number {
  if (!Number.isFinite(embeddingNorm) || embeddingNorm <= 0)
    throw new InputError(`RealEra: embeddingNorm: expected a finite number > 0, got ${embeddingNorm}`);
  if (!Number.isFinite(referenceNorm) || referenceNorm <= 0)
    throw new InputError(`RealEra: referenceNorm: expected a finite number > 0, got ${referenceNorm}`);
  return embeddingNorm / referenceNorm;
}

export interface RealEraNeighbor {
  /** e + eta: an erase input. */
  readonly erase: Float64Array;
  /** e* + eta': its anchor. */
  readonly anchor: Float64Array;
  /** r = |eta| (scaled). */
  readonly radius: number;
  /** r' = |eta'| (scaled). */
  readonly anchorRadius: number;
  /** cos(e, e + eta). */
  readonly cosine: number;
}

export interface RealEraBeyond {
  /** e + eta: a preserve input, kept at its own mapping. */
  readonly embedding: Float64Array;
  readonly radius: number;
  readonly cosine: number;
}

export interface RealEraSamples {
  readonly neighbors: readonly RealEraNeighbor[];
  readonly beyond: readonly RealEraBeyond[];
  /** Draws used per phase. */
  readonly tries: { readonly neighbors: number; readonly beyond: number };
  /** The options used, defaults filled in. */
  readonly options: RealEraOptions;
}

/** The cosine window could not be met within maxTries. */
export class RealEraWindowError extends InputError {
  constructor(message: string) {
    super(message);
  }
}

/** Draws M neighbors and N beyond-concept samples for one prompt (Algorithm 1, lines 3-22). */
export function sampleRealEra(
  embedding: ArrayLike<number>,
  anchor: ArrayLike<number>,
  random: SeededRandom,
  options: Partial<RealEraOptions> = {},
): RealEraSamples {
  const o = resolveOptions(options);
  const size = embedding.length;
  if (size === 0) throw new InputError('RealEra: embedding: expected a non-empty vector');
  if (anchor.length !== size) throw new InputError(`RealEra: anchor: expected ${size} values (the embedding's size), got ${anchor.length}`);
  const e = toFloat64(embedding, 'embedding');
  const eStar = toFloat64(anchor, 'anchor');
  let eNormSquared = 0;
  for (let i = 0; i < size; i++) eNormSquared += e[i] * e[i];
  if (!(eNormSquared > 0)) throw new InputError('RealEra: embedding: the zero vector has no cosine neighborhood');
  const eNorm = Math.sqrt(eNormSquared);

  const d1 = o.d1 * o.radiusScale;
  const d2 = o.d2 * o.radiusScale;
  const d1Anchor = o.d1Anchor * o.radiusScale;
  const direction = new Float64Array(size);

  // v^ = (v - e)/|v - e| into `direction`; false when v lands exactly on e.
  const drawDirection = (): boolean => {
    let normSquared = 0;
    for (let i = 0; i < size; i++) {
      const component = random.normal() - e[i];
      direction[i] = component;
      normSquared += component * component;
    }
    if (!(normSquared > 0)) return false;
    const inverse = 1 / Math.sqrt(normSquared);
    for (let i = 0; i < size; i++) direction[i] *= inverse;
    return true;
  };
  // e + radius * v^ and its cosine with e.
  const perturb = (base: Float64Array, radius: number): Float64Array => {
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) out[i] = base[i] + radius * direction[i];
    return out;
  };
  const cosineWithE = (x: Float64Array): number => {
    let dot = 0;
    let normSquared = 0;
    for (let i = 0; i < size; i++) {
      dot += e[i] * x[i];
      normSquared += x[i] * x[i];
    }
    return normSquared > 0 ? dot / (eNorm * Math.sqrt(normSquared)) : 0;
  };

  const neighbors: RealEraNeighbor[] = [];
  const neighborCosines = new CosineRange();
  let neighborTries = 0;
  while (neighbors.length < o.m) {
    if (neighborTries >= o.maxTries) throw neighborWindowError(o, neighbors.length, neighborCosines, d1);
    neighborTries++;
    const usable = drawDirection();
    const radius = random.uniformIn(0, d1);
    const anchorRadius = random.uniformIn(0, d1Anchor);
    if (!usable) continue;
    const candidate = perturb(e, radius);
    const cosine = cosineWithE(candidate);
    neighborCosines.add(cosine);
    if (cosine >= o.s2 && cosine <= o.s1) neighbors.push({ erase: candidate, anchor: perturb(eStar, anchorRadius), radius, anchorRadius, cosine });
  }

  const beyond: RealEraBeyond[] = [];
  const beyondCosines = new CosineRange();
  let beyondTries = 0;
  while (beyond.length < o.n) {
    if (beyondTries >= o.maxTries) throw beyondWindowError(o, beyond.length, beyondCosines, d1, d2);
    beyondTries++;
    const usable = drawDirection();
    const radius = random.uniformIn(d1, d2);
    if (!usable) continue;
    const candidate = perturb(e, radius);
    const cosine = cosineWithE(candidate);
    beyondCosines.add(cosine);
    if (cosine < o.s2) beyond.push({ embedding: candidate, radius, cosine });
  }
  return { neighbors, beyond, tries: { neighbors: neighborTries, beyond: beyondTries }, options: o };
}

class CosineRange {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  add(value: number): void {
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
  }
  describe(): string {
    return this.min <= this.max ? `${this.min.toFixed(3)}..${this.max.toFixed(3)}` : 'none (no usable draw)';
  }
}

function neighborWindowError(o: RealEraOptions, found: number, seen: CosineRange, d1: number): RealEraWindowError {
  let advice: string;
  if (seen.min > o.s1) advice = `every draw stayed above s1: raise d1 (or radiusScale) to move further from e, or raise s1`;
  else if (seen.max < o.s2) advice = `every draw fell below s2: lower d1 (or radiusScale), or lower s2`;
  else advice = `few draws land in the window: widen [s2, s1], or move d1 (or radiusScale) so more radii reach it, or raise maxTries`;
  return new RealEraWindowError(
    `RealEra: found ${found} of m = ${o.m} neighbors with s2 = ${o.s2} <= cos(e, e + eta) <= s1 = ${o.s1} ` +
      `in maxTries = ${o.maxTries} draws (radius in [0, ${d1.toFixed(2)})); cosines seen ${seen.describe()}: ${advice}`,
  );
}

function beyondWindowError(o: RealEraOptions, found: number, seen: CosineRange, d1: number, d2: number): RealEraWindowError {
  const advice =
    seen.min >= o.s2
      ? `every draw stayed at or above s2: raise d1 and d2 (or radiusScale) to reach further, or raise s2`
      : `few draws fall below s2: raise d2 (or radiusScale), raise s2, or raise maxTries`;
  return new RealEraWindowError(
    `RealEra: found ${found} of n = ${o.n} beyond-concept samples with cos(e, e + eta) < s2 = ${o.s2} ` +
      `in maxTries = ${o.maxTries} draws (radius in [${d1.toFixed(2)}, ${d2.toFixed(2)})); cosines seen ${seen.describe()}: ${advice}`,
  );
}

function resolveOptions(options: Partial<RealEraOptions>): RealEraOptions {
  return resolveRealEraOptions(options);
}

/**
 * Fills defaults and checks every option; `fail` reports a bad field (default: an InputError
 * "RealEra: field: expected ..."), so a recipe parser can name its own file and path.
 */
export function resolveRealEraOptions(
  options: Partial<RealEraOptions>,
  report: (field: string, detail: string) => never = (field, detail) => {
    throw new InputError(`RealEra: ${field}: ${detail}`);
  },
): RealEraOptions {
  const o: RealEraOptions = { ...REALERA_DEFAULTS, ...options };
  const fail = (field: keyof RealEraOptions, expected: string): never => report(field, `expected ${expected}, got ${String(o[field])}`);
  for (const key of Object.keys(options))
    if (!(key in REALERA_DEFAULTS)) report(key, `unknown option; expected one of ${Object.keys(REALERA_DEFAULTS).join(', ')}`);
  if (!Number.isFinite(o.s1) || o.s1 > 1 || o.s1 < -1) fail('s1', 'a cosine in [-1, 1]');
  if (!Number.isFinite(o.s2) || o.s2 < -1 || o.s2 > o.s1) fail('s2', `a cosine in [-1, s1 = ${o.s1}]`);
  if (!Number.isInteger(o.m) || o.m < 0) fail('m', 'an integer >= 0');
  if (!Number.isInteger(o.n) || o.n < 0) fail('n', 'an integer >= 0');
  if (!Number.isFinite(o.d1) || o.d1 <= 0) fail('d1', 'a finite number > 0');
  if (!Number.isFinite(o.d2) || o.d2 <= o.d1) fail('d2', `a finite number > d1 = ${o.d1}`);
  if (!Number.isFinite(o.d1Anchor) || o.d1Anchor < 0) fail('d1Anchor', 'a finite number >= 0');
  if (!Number.isFinite(o.radiusScale) || o.radiusScale <= 0) fail('radiusScale', 'a finite number > 0');
  if (!Number.isInteger(o.maxTries) || o.maxTries < 1) fail('maxTries', 'an integer >= 1');
  return o;
}

function toFloat64(values: ArrayLike<number>, field: string): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) throw new InputError(`RealEra: ${field}: value ${i} is ${value}, expected a finite number`);
    out[i] = value;
  }
  return out;
}
