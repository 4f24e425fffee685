import type { EvaluationReport } from './report.ts';

/** A number as the tables print it: 3 decimals, "–" for an empty group. */
export function formatAccuracy(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(3);
}

/**
 * The report as a Markdown table: one row per run, Acc_e / Acc_s / Acc_g / H_o by mean probability
 * with top-1 in parentheses (the CLI prints it; README tables use the same layout).
 */
export function formatSummaryTable(report: EvaluationReport): string {
  const clip = report.runs.some((r) => r.metrics.clipScore !== undefined);
  const header = ['run', 'Acc_e ↓', 'Acc_s ↑', 'Acc_g ↓', 'H_o ↑', ...(clip ? ['CLIP score'] : [])];
  const cell = (p: number, top1: number) => `${formatAccuracy(p)} (${formatAccuracy(top1)})`;
  const rows = report.runs.map((run) => {
    const m = run.metrics;
    return [
      run.label,
      cell(m.efficacy.probability, m.efficacy.top1),
      cell(m.specificity.probability, m.specificity.top1),
      cell(m.generality.probability, m.generality.top1),
      cell(m.harmonic.probability, m.harmonic.top1),
      ...(clip ? [m.clipScore === undefined ? '–' : m.clipScore.toFixed(2)] : []),
    ];
  });
  const lines = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  const p = report.protocol;
  lines.push('', `erased: ${p.erased.join(', ')}; ${p.classes.length} classes, ${p.prompts.length} prompts x ${p.seeds.length} seeds, ${p.sampling.steps} ${p.sampling.scheduler} steps; mean probability (top-1)`);
  return lines.join('\n');
}
