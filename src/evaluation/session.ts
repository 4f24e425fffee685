import type { EvaluationReport, EvaluationRun } from './report.ts';

/**
 * What makes two evaluations comparable in one table: the same pack, protocol and judge. Runs of
 * comparable evaluations are merged, so several edits sit side by side with one original.
 */
export function comparableKey(report: Pick<EvaluationReport, 'pack' | 'protocol' | 'judge'>): string {
  return JSON.stringify([report.pack.id, report.protocol, report.judge.descriptor, report.judge.labels]);
}

/** The same model: the original, or an edit with the same id. */
export function sameModel(a: EvaluationRun, b: EvaluationRun): boolean {
  if (a.edit.kind === 'original' || b.edit.kind === 'original') return a.edit.kind === b.edit.kind;
  return a.edit.id === b.edit.id;
}

/**
 * Adds `incoming`'s runs to `current` when both are comparable (a run of the same model is
 * replaced in place, the original stays first); otherwise `incoming` starts a new table.
 */
export function mergeReports(current: EvaluationReport | null, incoming: EvaluationReport): EvaluationReport {
  if (!current || comparableKey(current) !== comparableKey(incoming)) return incoming;
  const runs = [...current.runs];
  for (const run of incoming.runs) {
    const at = runs.findIndex((r) => sameModel(r, run));
    if (at >= 0) runs[at] = run;
    else runs.push(run);
  }
  runs.sort((a, b) => (a.edit.kind === 'original' ? -1 : b.edit.kind === 'original' ? 1 : 0));
  return { ...current, runs, ...(incoming.clipScore ? { clipScore: incoming.clipScore } : {}) };
}

/** Whether the merged table already has the original model's run (so a new evaluation can skip it). */
export function hasOriginal(report: EvaluationReport | null): boolean {
  return report?.runs.some((r) => r.edit.kind === 'original') ?? false;
}
