/**
 * Wall-clock time per run of GPU work, measured the same way for every contender: calibrate
 * with one synced run, then time enough runs to fill ~minMs, synced once at the end.
 */
export async function timePerRun(run: () => Promise<void> | void, sync: () => Promise<void>, minMs = 400, maxRuns = 60): Promise<{ ms: number; runs: number }> {
  for (let i = 0; i < 2; i++) await run();
  await sync();
  const calibrationStart = performance.now();
  await run();
  await sync();
  const once = Math.max(performance.now() - calibrationStart, 0.01);
  const runs = Math.max(3, Math.min(maxRuns, Math.ceil(minMs / once)));
  const start = performance.now();
  for (let i = 0; i < runs; i++) await run();
  await sync();
  return { ms: (performance.now() - start) / runs, runs };
}
