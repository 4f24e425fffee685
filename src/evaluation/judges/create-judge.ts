import type { OnnxRunner } from '../../pipeline/onnx/runner.ts';
import { createConceptWorldJudge, type ConceptWorldLabels } from './concept-world-judge.ts';
import type { Judge, PromptScorer } from './judge.ts';

/** MACE's zero-shot prompt and logit scale for CLIP judges. */
export const CLIP_TEMPLATE = 'a photo of the {object}';
export const CLIP_SCALE = 100;
export const CLIP_DEFAULT_MODEL = 'Xenova/clip-vit-base-patch32';

/** Which judge an evaluation uses, as a caller asks for it (files travel as bytes). */
export type JudgeRequest =
  | { kind: 'concept-world'; onnx: Uint8Array; labels: ConceptWorldLabels; file?: string; head?: 'object_logits' | 'style_logits' }
  | { kind: 'clip'; model: string; revision?: string; template?: string; scale?: number; endpoint?: string };

/** A CLIP model for CLIP scores (hub id; endpoint for a mirror or a test hub). */
export interface ClipScoreRequest {
  model: string;
  revision?: string;
  endpoint?: string;
}

/**
 * Builds the judge. The concept-world classifier runs on the engine's ONNX runner; CLIP runs in
 * transformers.js (loaded only when asked for: the studio bundle does not carry it otherwise).
 * `classes` are the evaluation's classes: a CLIP judge's labels, one text per class.
 */
export async function createJudge(request: JudgeRequest, runner: OnnxRunner, classes: readonly string[]): Promise<Judge> {
  if (request.kind === 'concept-world') return createConceptWorldJudge(runner, request.onnx, request.labels, { file: request.file, head: request.head });
  const { createClipJudge } = await import('./clip-judge.ts');
  return createClipJudge({ model: request.model, revision: request.revision, endpoint: request.endpoint }, classes, { template: request.template ?? CLIP_TEMPLATE, scale: request.scale ?? CLIP_SCALE });
}

export async function createPromptScorer(request: ClipScoreRequest): Promise<PromptScorer> {
  const { createClipScorer } = await import('./clip-judge.ts');
  return createClipScorer(request);
}
