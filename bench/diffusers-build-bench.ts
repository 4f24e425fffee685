import { MemorySink } from '../src/model/converter/index.ts';
import { buildPackFromDiffusers, packSourceReader } from '../src/model/diffusers/index.ts';
import { HubSource } from '../src/model/sources/hub.ts';

export interface DiffusersBuildBenchRow {
  repo: string;
  seconds: number;
  packBytes: number;
  /** Peak JS heap (performance.memory, sampled every 100 ms); ArrayBuffers are not in it. */
  peakJsHeapBytes: number;
  /** Peak of all memory the page holds (measureUserAgentSpecificMemory, sampled), when the browser provides it. */
  peakPageBytes: number | null;
}

interface ChromeMemory {
  usedJSHeapSize: number;
}

/** Builds a pack in this page from a diffusers repo on a hub-style server, as the studio does. */
export async function benchDiffusersBuild(endpoint: string, repo: string, log: (line: string) => void): Promise<DiffusersBuildBenchRow> {
  let peakJsHeapBytes = 0;
  let peakPageBytes: number | null = null;
  const sample = () => {
    const memory = (performance as Performance & { memory?: ChromeMemory }).memory;
    if (memory) peakJsHeapBytes = Math.max(peakJsHeapBytes, memory.usedJSHeapSize);
  };
  const measurePage = (performance as Performance & { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }).measureUserAgentSpecificMemory;
  let measuring = false;
  const timer = setInterval(() => {
    sample();
    if (measurePage && !measuring) {
      measuring = true;
      measurePage.call(performance).then(
        (result) => {
          peakPageBytes = Math.max(peakPageBytes ?? 0, result.bytes);
          measuring = false;
        },
        () => (measuring = false),
      );
    }
  }, 100);
  const started = performance.now();
  const sink = new MemorySink();
  try {
    await buildPackFromDiffusers(packSourceReader(new HubSource({ repo, endpoint })), sink, {
      onProgress: (p) => p.file && log(`  diffusers build: ${p.stage} ${p.file} (${p.filesDone}/${p.filesTotal})`),
    });
  } finally {
    clearInterval(timer);
  }
  sample();
  const seconds = (performance.now() - started) / 1000;
  let packBytes = 0;
  for (const bytes of sink.files.values()) packBytes += bytes.byteLength;
  log(`diffusers build ${repo}: ${seconds.toFixed(1)} s, pack ${(packBytes / 2 ** 20).toFixed(0)} MiB, peak JS heap ${(peakJsHeapBytes / 2 ** 20).toFixed(0)} MiB`);
  return { repo, seconds, packBytes, peakJsHeapBytes, peakPageBytes };
}
