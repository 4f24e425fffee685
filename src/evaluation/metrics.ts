import type { EvaluationProtocol } from './protocol.ts';

/** One judged image: which prompt and seed made it, and the judge's probability per label. */
export interface JudgedImage {
  /** Index into the protocol's prompts. */
  prompt: number;
  seed: number;
  /** Probabilities over the judge's labels (sum 1). */
  probabilities: number[];
  /** CLIP score of the image against its own prompt (100 x cosine, floored at 0), when asked for. */
  clipScore?: number;
}

/** An accuracy read two ways, as the papers report them. */
export interface Accuracy {
  /** Mean judge probability of the prompted class. */
  probability: number;
  /** Fraction of images whose most probable label is the prompted class. */
  top1: number;
  /** Images it averages over. */
  images: number;
}

export interface EvaluationMetrics {
  /** On the erased classes' own names (lower is better). */
  efficacy: Accuracy;
  /** On the kept classes (higher is better). */
  specificity: Accuracy;
  /** On the erased classes' synonyms (lower is better). */
  generality: Accuracy;
  /** H_o = 3 / (1/(1-Acc_e) + 1/Acc_s + 1/(1-Acc_g)), from the mean-probability accuracies and from top-1. */
  harmonic: { probability: number; top1: number };
  /** Per class: accuracy on its name prompts (the bar chart's bars). */
  perClass: { className: string; erased: boolean; accuracy: Accuracy }[];
  /** Mean CLIP score over the kept classes' prompts (a quality number), when the images have one. */
  clipScore?: number;
}

/**
 * RealEra's overall score: the harmonic mean of forgetting (1 - Acc_e), keeping (Acc_s) and
 * forgetting the paraphrases (1 - Acc_g). Any term at 0 makes H_o 0.
 */
export function harmonicOverall(accE: number, accS: number, accG: number): number {
  const terms = [1 - accE, accS, 1 - accG];
  if (terms.some((t) => t <= 0)) return 0;
  return 3 / terms.reduce((sum, t) => sum + 1 / t, 0);
}

/** Acc_e, Acc_s, Acc_g, H_o and per-class accuracies of one run's images. `labels` are the judge's. */
export function scoreImages(protocol: EvaluationProtocol, labels: readonly string[], images: readonly JudgedImage[]): EvaluationMetrics {
  const labelOf = new Map(labels.map((label, i) => [label, i]));
  for (const c of protocol.classes) {
    if (!labelOf.has(c.name)) throw new Error(`evaluation: the judge has no label "${c.name}" (it knows ${labels.join(', ')})`);
  }
  const groups = { efficacy: new Tally(), specificity: new Tally(), generality: new Tally() };
  const perClass = new Map(protocol.classes.map((c) => [c.name, new Tally()]));
  const clip = new Tally();
  for (const image of images) {
    const prompt = protocol.prompts[image.prompt];
    if (!prompt) throw new Error(`evaluation: image refers to prompt ${image.prompt}, but the protocol has ${protocol.prompts.length}`);
    if (image.probabilities.length !== labels.length) throw new Error(`evaluation: image of prompt ${image.prompt} seed ${image.seed} has ${image.probabilities.length} probabilities, the judge has ${labels.length} labels`);
    const target = labelOf.get(prompt.className)!;
    const p = image.probabilities[target];
    const hit = argmax(image.probabilities) === target ? 1 : 0;
    const erased = protocol.erased.includes(prompt.className);
    if (prompt.kind === 'synonym') {
      if (erased) groups.generality.add(p, hit);
      continue;
    }
    perClass.get(prompt.className)!.add(p, hit);
    (erased ? groups.efficacy : groups.specificity).add(p, hit);
    if (!erased && image.clipScore !== undefined) clip.add(image.clipScore, 0);
  }
  const efficacy = groups.efficacy.accuracy();
  const specificity = groups.specificity.accuracy();
  const generality = groups.generality.accuracy();
  return {
    efficacy,
    specificity,
    generality,
    harmonic: {
      probability: harmonicOverall(efficacy.probability, specificity.probability, generality.probability),
      top1: harmonicOverall(efficacy.top1, specificity.top1, generality.top1),
    },
    perClass: protocol.classes.map((c) => ({ className: c.name, erased: protocol.erased.includes(c.name), accuracy: perClass.get(c.name)!.accuracy() })),
    ...(clip.count > 0 ? { clipScore: clip.accuracy().probability } : {}),
  };
}

/** Index of the largest value (the first one on ties, as torch.argmax). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Numerically stable softmax in float64 (logits may be float32 from ONNX). */
export function softmax(logits: ArrayLike<number>, scale = 1): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] * scale);
  const out = new Array<number>(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] * scale - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Mean of probabilities and of hits; an empty group has no accuracy (NaN), never a made-up 0. */
class Tally {
  count = 0;
  private p = 0;
  private hits = 0;
  add(p: number, hit: number): void {
    this.count++;
    this.p += p;
    this.hits += hit;
  }
  accuracy(): Accuracy {
    return this.count === 0 ? { probability: Number.NaN, top1: Number.NaN, images: 0 } : { probability: this.p / this.count, top1: this.hits / this.count, images: this.count };
  }
}
