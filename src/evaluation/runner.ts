import type { Judge, JudgeImage, PromptScorer } from './judges/judge.ts';
import { scoreImages, type JudgedImage } from './metrics.ts';
import type { EvaluationProtocol } from './protocol.ts';
import { REPORT_FORMAT, REPORT_VERSION, type EditReference, type EvaluationReport, type EvaluationRun } from './report.ts';

/** Makes one image of the protocol; `variant` picks the original model or the edited one. */
export interface ImageSource {
  generate(request: { prompt: string; seed: number; variant: 'original' | 'edited'; editId?: string }, signal: AbortSignal): Promise<{ image: JudgeImage; editId: string | null }>;
}

/** A run to make: its label, which model, and what the report records about that model. */
export interface PlannedRun {
  label: string;
  variant: 'original' | 'edited';
  /** With 'edited': a kept edit instead of the current one. */
  editId?: string;
  edit: EditReference;
}

/**
 * Sent once before the first image (done 0: the total is known, nothing made yet) and after each
 * image is generated.
 */
export interface EvaluationProgress {
  /** Images generated so far, over all runs. */
  done: number;
  total: number;
  /** The image just made (done 0: the first one to make). */
  run: string;
  prompt: string;
  seed: number;
  elapsedMs: number;
  /** Remaining time at the mean pace so far (null before the first image). */
  etaMs: number | null;
}

/** An image as it was judged, for the studio's grid (before above after). */
export interface EvaluatedImage {
  run: number;
  prompt: number;
  seed: number;
  image: JudgeImage;
  probabilities: number[];
}

export interface EvaluationOptions {
  protocol: EvaluationProtocol;
  runs: PlannedRun[];
  judge: Judge;
  /** CLIP score of each image against its prompt, when given. */
  scorer?: PromptScorer;
  source: ImageSource;
  pack: { id: string; description: string };
  signal?: AbortSignal;
  onProgress?: (progress: EvaluationProgress) => void;
  onImage?: (image: EvaluatedImage) => void;
  /** Monotonic milliseconds (tests pass a fake clock). */
  now?: () => number;
}

/** An edited run's images came from a different edit than its first one: the edit changed underneath. */
export class EditChangedError extends Error {
  override readonly name = 'EditChangedError';
}

/**
 * The protocol for every run: each prompt at each seed, judged (one judge batch per prompt's K
 * seeds), scored. Runs share the prompts and seeds, so "before" and "after" differ only by the edit.
 */
export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationReport> {
  const { protocol, runs, judge, scorer, source } = options;
  const signal = options.signal ?? new AbortController().signal;
  const now = options.now ?? (() => performance.now());
  const total = runs.length * protocol.prompts.length * protocol.seeds.length;
  const started = now();
  let done = 0;
  if (runs.length > 0 && protocol.prompts.length > 0 && protocol.seeds.length > 0) options.onProgress?.({ done, total, run: runs[0].label, prompt: protocol.prompts[0].text, seed: protocol.seeds[0], elapsedMs: 0, etaMs: null });
  const results: EvaluationRun[] = [];
  for (const [runIndex, run] of runs.entries()) {
    const runStarted = now();
    const images: JudgedImage[] = [];
    let editId: string | null | undefined;
    for (const [promptIndex, prompt] of protocol.prompts.entries()) {
      const batch: JudgeImage[] = [];
      for (const seed of protocol.seeds) {
        signal.throwIfAborted();
        const made = await source.generate({ prompt: prompt.text, seed, variant: run.variant, ...(run.editId ? { editId: run.editId } : {}) }, signal);
        if (editId === undefined) editId = made.editId;
        else if (made.editId !== editId) throw new EditChangedError(`evaluation: run "${run.label}" began with edit ${editId ?? 'none'} but image "${prompt.text}" seed ${seed} came from ${made.editId ?? 'none'}; keep the edit until the evaluation ends`);
        if (run.variant === 'edited' && made.editId === null) throw new EditChangedError(`evaluation: run "${run.label}" asks for the edited model, but there is no edit`);
        batch.push(made.image);
        done++;
        const elapsedMs = now() - started;
        options.onProgress?.({ done, total, run: run.label, prompt: prompt.text, seed, elapsedMs, etaMs: (elapsedMs / done) * (total - done) });
      }
      const probabilities = await judge.classify(batch);
      const clip = scorer ? await scorer.score(batch, batch.map(() => prompt.text)) : null;
      protocol.seeds.forEach((seed, i) => {
        images.push({ prompt: promptIndex, seed, probabilities: probabilities[i], ...(clip ? { clipScore: clip[i] } : {}) });
        options.onImage?.({ run: runIndex, prompt: promptIndex, seed, image: batch[i], probabilities: probabilities[i] });
      });
    }
    results.push({ label: run.label, edit: run.edit, images, metrics: scoreImages(protocol, judge.labels, images), ms: now() - runStarted });
  }
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    pack: options.pack,
    protocol,
    judge: { descriptor: judge.descriptor, labels: [...judge.labels] },
    ...(scorer ? { clipScore: { model: scorer.model } } : {}),
    runs: results,
  };
}
