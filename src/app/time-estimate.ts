/**
 * Time estimates from measured times: an image costs a fixed part (encode, decode) plus a part
 * per denoising step, fitted by least squares to the images made so far on this GPU.
 */

export interface ImageTiming {
  steps: number;
  ms: number;
}

export const MAX_TIMINGS = 24;

export function withTiming(timings: readonly ImageTiming[], timing: ImageTiming): ImageTiming[] {
  if (!(timing.steps > 0) || !(timing.ms >= 0)) return [...timings];
  const next = [...timings, timing];
  return next.slice(Math.max(0, next.length - MAX_TIMINGS));
}

/** ms ≈ fixed + perStep·steps; with one step count only, all of it is taken as per-step time. */
export function fitImageTime(timings: readonly ImageTiming[]): { fixedMs: number; perStepMs: number } | null {
  if (timings.length === 0) return null;
  const n = timings.length;
  const meanSteps = timings.reduce((s, t) => s + t.steps, 0) / n;
  const meanMs = timings.reduce((s, t) => s + t.ms, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const t of timings) {
    sxx += (t.steps - meanSteps) ** 2;
    sxy += (t.steps - meanSteps) * (t.ms - meanMs);
  }
  if (sxx === 0) return { fixedMs: 0, perStepMs: meanMs / meanSteps };
  const perStepMs = Math.max(0, sxy / sxx);
  const fixedMs = Math.max(0, meanMs - perStepMs * meanSteps);
  return { fixedMs, perStepMs };
}

export function estimateImageMs(timings: readonly ImageTiming[], steps: number): number | null {
  const fit = fitImageTime(timings);
  return fit ? fit.fixedMs + fit.perStepMs * steps : null;
}

/** "under a second", "about 12 s", "about 3 min" — estimates, so never more precise than that. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1000) return 'under a second';
  const seconds = ms / 1000;
  if (seconds < 90) return `about ${Math.round(seconds)} s`;
  const minutes = seconds / 60;
  if (minutes < 90) return `about ${Math.round(minutes)} min`;
  return `about ${(minutes / 60).toFixed(1)} h`;
}
