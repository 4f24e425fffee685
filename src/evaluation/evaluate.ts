import type { OnnxRunner } from '../pipeline/onnx/runner.ts';
import { createJudge, createPromptScorer, type ClipScoreRequest, type JudgeRequest } from './judges/create-judge.ts';
import type { Judge, JudgeImage, PromptScorer } from './judges/judge.ts';
import { checkClasses, checkErased, type EvaluationProtocol } from './protocol.ts';
import type { EditReference, EvaluationReport } from './report.ts';
import { runEvaluation, type EvaluationProgress, type ImageSource, type PlannedRun } from './runner.ts';
import { thumbnail } from './thumbnail.ts';
import { InputError } from '../util/errors.ts';

/** One evaluation as the engine takes it: the protocol, the judge, and which models to run. */
export interface EvaluationRequest {
  /** Chosen by the caller, so that cancel(jobId) can stop it. */
  jobId: string;
  protocol: EvaluationProtocol;
  judge: JudgeRequest;
  /** Also a CLIP score per image against its prompt (quality of kept prompts). */
  clipScore?: ClipScoreRequest;
  /** The models to run, in table order: before (original) and after (the current edit, or a kept one by id). */
  runs: EvaluationRunRequest[];
  /** Return each image (at most `thumbnailSide` pixels a side) for the studio's grid. */
  images?: boolean;
  thumbnailSide?: number;
}

export type EvaluationRunRequest = { kind: 'original'; label?: string } | { kind: 'edited'; editId?: string; label?: string };

export interface EvaluationProgressEvent extends EvaluationProgress {
  jobId: string;
}

/** A judged image for the grid: which run, prompt and seed, RGBA at thumbnail size. */
export interface EvaluationImage {
  run: number;
  prompt: number;
  seed: number;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  /** The judge's probability of the prompted class. */
  probability: number;
}

export interface EvaluationResult {
  report: EvaluationReport;
  images: EvaluationImage[];
}

/** What the engine lends an evaluation: its ONNX runner, its generator, the pack and the current edit. */
export interface EvaluationHost {
  runner: OnnxRunner;
  pack: { id: string; description: string };
  /** An edit as a report records it: the current one (no id) or a kept one; null when there is none. */
  describeEdit(editId?: string): EditReference | null;
  source: ImageSource;
  /**
   * Runs a job alone on the engine's ONNX runtime and device (the engine's job queue). Images are
   * queued jobs of their own; the judge's session is made, run and released through this too, so
   * it never runs beside a generation (the studio's comparison grid may be filling meanwhile):
   * onnxruntime-web takes one call at a time, and a session created during another's run fails
   * ("memory access out of bounds") or hangs.
   */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
}

/** Checks the request, builds the judge (and scorer), runs the protocol, frees the judge. */
export async function evaluate(request: EvaluationRequest, host: EvaluationHost, onProgress: (progress: EvaluationProgressEvent) => void, signal: AbortSignal): Promise<EvaluationResult> {
  const { protocol } = request;
  checkClasses(protocol.classes);
  checkErased(protocol.classes, protocol.erased);
  if (protocol.prompts.length === 0) throw new InputError('evaluation: the protocol has no prompts');
  if (protocol.seeds.length === 0) throw new InputError('evaluation: the protocol has no seeds');
  if (request.runs.length === 0) throw new InputError('evaluation: choose what to run (original, edited or both)');
  const runs: PlannedRun[] = request.runs.map((run) => {
    if (run.kind === 'original') return { variant: 'original', edit: { kind: 'original' }, label: run.label ?? 'original' };
    const edit = host.describeEdit(run.editId);
    if (!edit) throw new InputError(run.editId ? `evaluation: edit ${run.editId.slice(0, 12)} is neither current nor kept` : 'evaluation: there is no edit to evaluate; erase a concept, apply a recipe or import a LoRA first');
    return { variant: 'edited', ...(run.editId ? { editId: run.editId } : {}), edit, label: run.label ?? editLabel(edit) };
  });
  const { exclusive } = host;
  const judge = exclusiveJudge(await exclusive(() => createJudge(request.judge, host.runner, protocol.classes.map((c) => c.name))), exclusive);
  let scorer: PromptScorer | undefined;
  const images: EvaluationImage[] = [];
  const side = request.thumbnailSide ?? 128;
  try {
    const clipScore = request.clipScore;
    scorer = clipScore ? exclusiveScorer(await exclusive(() => createPromptScorer(clipScore)), exclusive) : undefined;
    const labelIndex = new Map(judge.labels.map((l, i) => [l, i]));
    const report = await runEvaluation({
      protocol,
      runs,
      judge,
      scorer,
      source: host.source,
      pack: host.pack,
      signal,
      onProgress: (progress) => onProgress({ jobId: request.jobId, ...progress }),
      onImage: request.images
        ? (judged) => {
            const small: JudgeImage = thumbnail(judged.image, side);
            const target = labelIndex.get(protocol.prompts[judged.prompt].className);
            images.push({ run: judged.run, prompt: judged.prompt, seed: judged.seed, width: small.width, height: small.height, rgba: new Uint8ClampedArray(small.rgba), probability: target === undefined ? Number.NaN : judged.probabilities[target] });
          }
        : undefined,
    });
    return { report, images };
  } finally {
    await judge.release();
    await scorer?.release();
  }
}

type Exclusive = EvaluationHost['exclusive'];

/** The judge with every call through `exclusive`. */
function exclusiveJudge(judge: Judge, exclusive: Exclusive): Judge {
  return {
    descriptor: judge.descriptor,
    labels: judge.labels,
    classify: (images) => exclusive(() => judge.classify(images)),
    release: () => exclusive(() => judge.release()),
  };
}

function exclusiveScorer(scorer: PromptScorer, exclusive: Exclusive): PromptScorer {
  return {
    model: scorer.model,
    score: (images, prompts) => exclusive(() => scorer.score(images, prompts)),
    release: () => exclusive(() => scorer.release()),
  };
}

/** A short name for an edit in the table: the recipe's id, or the LoRA file and its strength. */
export function editLabel(edit: EditReference): string {
  if (edit.kind === 'original') return 'original';
  if (edit.kind === 'recipe') return `edit ${edit.id.slice(0, 8)}`;
  return `${edit.fileName} x${edit.strength}`;
}
