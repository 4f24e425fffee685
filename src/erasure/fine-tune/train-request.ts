/** Fine-tuning as the UI and the CLI ask for it (Engine.train), its progress and its result. */
import type { GenerateRequest } from '../../pipeline/generate.ts';
import type { LossGroup } from './loss-terms.ts';

/** The "after" image a run refreshes from its current LoRA (the same seed every time), at the pack's native size. */
export type TrainingPreviewRequest = Pick<GenerateRequest, 'prompt' | 'negativePrompt' | 'seed' | 'steps' | 'guidance' | 'scheduler'> & {
  /** Every this many steps, and after the last. */
  readonly every: number;
};

/** A preview image of the LoRA as it was after `step` steps. */
export interface TrainingPreview {
  step: number;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  seed: number;
  prompt: string;
}

export interface TrainRequest {
  /** Chosen by the caller, so that pause/resume/cancel can name the run before train() returns. */
  jobId: string;
  /** Recipe JSON with a fineTune section: everything that decides the run. */
  recipe: string;
  /** A checkpoint every this many steps, and after the last (default 10; 0: none). */
  checkpointEvery?: number;
  /** Continue from this recipe's saved checkpoint when there is one. */
  resume?: boolean;
  /** Stop after this many steps done (a planned pause; the checkpoint keeps the state). */
  stopAfter?: number;
  /** Refresh an "after" image from the current LoRA every few steps (sent with the progress). */
  preview?: TrainingPreviewRequest;
}

export interface TrainProgressEvent {
  jobId: string;
  /** Steps done. */
  step: number;
  steps: number;
  loss: number;
  /** The loss per chart line (erase, neighbor, beyond, coref, retain). */
  groups: Partial<Record<LossGroup, number>>;
  stepsPerSecond: number;
  etaSeconds: number;
  checkpointed: boolean;
  /** The refreshed "after" image, on the steps the preview request asked for. */
  preview?: TrainingPreview;
}

export interface TrainSummary {
  jobId: string;
  /** The current edit after training (the combined LoRA). */
  editId: string;
  /** Canonical recipe JSON of the run. */
  recipe: string;
  steps: number;
  /** The step the run resumed at (0: a fresh run). */
  resumedAt: number;
  losses: { step: number; loss: number; groups: Partial<Record<LossGroup, number>> }[];
  seconds: number;
  /** Rank of each projection's update (closed-form vectors + trained rank). */
  rank: number;
}

/** A saved run the studio can offer to resume. */
export interface SavedTraining {
  recipe: string;
  step: number;
  steps: number;
  losses: TrainSummary['losses'];
}
