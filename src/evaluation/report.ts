import { FormatError } from '../util/errors.ts';
import type { JudgeDescriptor } from './judges/judge.ts';
import { scoreImages, type EvaluationMetrics, type JudgedImage } from './metrics.ts';
import type { EvaluationProtocol } from './protocol.ts';

/** Which model made a run's images: the original pack, a closed-form recipe, or an imported LoRA. */
export type EditReference =
  | { kind: 'original' }
  /** The canonical recipe JSON recomputes the edit bit for bit; `id` is its sha256. */
  | { kind: 'recipe'; id: string; recipe: string }
  /** The file is not embedded: replaying needs it again, and the edit id proves it is the same. */
  | { kind: 'lora'; id: string; fileName: string; strength: number };

/** One model's images of the protocol, judged, and its numbers. */
export interface EvaluationRun {
  label: string;
  edit: EditReference;
  images: JudgedImage[];
  metrics: EvaluationMetrics;
  /** Wall time of the run (generation and judging). */
  ms: number;
}

export const REPORT_FORMAT = 'lethe-evaluation';
export const REPORT_VERSION = 1;

/**
 * Everything needed to replay an evaluation and get the same numbers: the pack (by manifest
 * hash), the protocol (classes, prompts, seeds, sampling), the judge (by file hash or hub id) and
 * each run's edit; every image's probabilities, from which every number is recomputed.
 */
export interface EvaluationReport {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  pack: { id: string; description: string };
  protocol: EvaluationProtocol;
  judge: { descriptor: JudgeDescriptor; labels: string[] };
  /** The CLIP model whose score each image carries, when one was asked for. */
  clipScore?: { model: string };
  runs: EvaluationRun[];
}

/** Report JSON with two-space indentation; NaN accuracies (an empty group) are written as null. */
export function serializeReport(report: EvaluationReport): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}

/**
 * Reads a report and checks it against itself: every run's numbers are recomputed from its
 * images' probabilities, and a report whose stored numbers differ is refused (edited by hand, or
 * from another version of the protocol).
 */
export function parseReport(text: string, file: string): EvaluationReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError(file, '(json)', `not JSON: ${(error as Error).message}`);
  }
  const r = json as Partial<EvaluationReport> | null;
  if (typeof r !== 'object' || r === null) throw new FormatError(file, '(root)', 'expected an evaluation report object');
  if (r.format !== REPORT_FORMAT) throw new FormatError(file, 'format', `expected "${REPORT_FORMAT}", got ${JSON.stringify(r.format)}`);
  if (r.version !== REPORT_VERSION) throw new FormatError(file, 'version', `expected ${REPORT_VERSION}, got ${JSON.stringify(r.version)}`);
  if (typeof r.pack?.id !== 'string') throw new FormatError(file, 'pack.id', 'expected the pack manifest sha256');
  const protocol = r.protocol;
  if (!protocol || !Array.isArray(protocol.classes) || !Array.isArray(protocol.prompts) || !Array.isArray(protocol.seeds) || !Array.isArray(protocol.erased) || typeof protocol.sampling !== 'object') {
    throw new FormatError(file, 'protocol', 'expected classes, erased, prompts, seeds and sampling');
  }
  for (const [i, seed] of protocol.seeds.entries()) if (!Number.isInteger(seed) || seed < 0) throw new FormatError(file, `protocol.seeds[${i}]`, `expected a non-negative integer, got ${JSON.stringify(seed)}`);
  for (const [i, p] of protocol.prompts.entries()) {
    if (typeof p?.text !== 'string' || typeof p.className !== 'string' || (p.kind !== 'name' && p.kind !== 'synonym')) throw new FormatError(file, `protocol.prompts[${i}]`, 'expected { text, className, term, kind: "name" | "synonym" }');
  }
  const judge = r.judge;
  if (!judge || !Array.isArray(judge.labels) || typeof judge.descriptor?.kind !== 'string') throw new FormatError(file, 'judge', 'expected { descriptor, labels }');
  if (!Array.isArray(r.runs) || r.runs.length === 0) throw new FormatError(file, 'runs', 'expected at least one run');
  const runs = r.runs.map((run, i) => {
    if (!run || typeof run.label !== 'string' || !run.edit || !Array.isArray(run.images)) throw new FormatError(file, `runs[${i}]`, 'expected { label, edit, images, metrics }');
    for (const [j, image] of run.images.entries()) {
      if (!Number.isInteger(image?.prompt) || !Number.isInteger(image.seed) || !Array.isArray(image.probabilities)) throw new FormatError(file, `runs[${i}].images[${j}]`, 'expected { prompt, seed, probabilities }');
    }
    const metrics = withNaN(scoreImages(protocol, judge.labels, run.images));
    const stored = run.metrics as EvaluationMetrics | undefined;
    if (stored) {
      const difference = metricsDifference(metrics, withNaN(stored));
      if (difference) throw new FormatError(file, `runs[${i}].metrics`, `do not follow from the run's images (${difference})`);
    }
    return { ...run, metrics };
  });
  return { ...(r as EvaluationReport), runs };
}

/** The first number that differs between two runs' metrics by more than `tolerance`, described; null when they agree. */
export function metricsDifference(a: EvaluationMetrics, b: EvaluationMetrics, tolerance = 1e-9): string | null {
  const pairs: [string, number, number][] = [
    ['Acc_e', a.efficacy.probability, b.efficacy.probability],
    ['Acc_e top-1', a.efficacy.top1, b.efficacy.top1],
    ['Acc_s', a.specificity.probability, b.specificity.probability],
    ['Acc_s top-1', a.specificity.top1, b.specificity.top1],
    ['Acc_g', a.generality.probability, b.generality.probability],
    ['Acc_g top-1', a.generality.top1, b.generality.top1],
    ['H_o', a.harmonic.probability, b.harmonic.probability],
    ['H_o top-1', a.harmonic.top1, b.harmonic.top1],
    ...a.perClass.map((c, i): [string, number, number] => [`${c.className}`, c.accuracy.probability, b.perClass[i]?.accuracy.probability ?? Number.NaN]),
  ];
  for (const [name, x, y] of pairs) {
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (!(Math.abs(x - y) <= tolerance)) return `${name}: ${x} vs ${y}`;
  }
  return null;
}

/** null (how JSON writes NaN) back to NaN, so an empty group reads as "no accuracy" again. */
function withNaN(metrics: EvaluationMetrics): EvaluationMetrics {
  const fix = (v: number | null) => (v === null ? Number.NaN : v);
  const acc = (a: EvaluationMetrics['efficacy']) => ({ probability: fix(a.probability), top1: fix(a.top1), images: a.images });
  return {
    ...metrics,
    efficacy: acc(metrics.efficacy),
    specificity: acc(metrics.specificity),
    generality: acc(metrics.generality),
    harmonic: { probability: fix(metrics.harmonic.probability), top1: fix(metrics.harmonic.top1) },
    perClass: metrics.perClass.map((c) => ({ ...c, accuracy: acc(c.accuracy) })),
  };
}

/**
 * The summary table as CSV: one row per run with Acc_e, Acc_s, Acc_g, H_o (probability and top-1),
 * then one column per class (accuracy on its name prompts). Numbers with 6 decimals.
 */
export function reportCsv(report: EvaluationReport): string {
  const classes = report.protocol.classes.map((c) => c.name);
  const header = ['run', 'edit', 'acc_e', 'acc_s', 'acc_g', 'h_o', 'acc_e_top1', 'acc_s_top1', 'acc_g_top1', 'h_o_top1', 'clip_score', ...classes.map((c) => `acc_${c}`)];
  const number = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(6));
  const rows = report.runs.map((run) => {
    const m = run.metrics;
    return [
      run.label,
      run.edit.kind === 'original' ? 'original' : `${run.edit.kind}:${run.edit.id.slice(0, 12)}`,
      number(m.efficacy.probability),
      number(m.specificity.probability),
      number(m.generality.probability),
      number(m.harmonic.probability),
      number(m.efficacy.top1),
      number(m.specificity.top1),
      number(m.generality.top1),
      number(m.harmonic.top1),
      number(m.clipScore),
      ...m.perClass.map((c) => number(c.accuracy.probability)),
    ];
  });
  return [header, ...rows].map((cells) => cells.map(csvCell).join(',')).join('\n') + '\n';
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
