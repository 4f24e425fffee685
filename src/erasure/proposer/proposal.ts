/**
 * The proposer's vocabulary: what is asked (a concept, its kind, how many corefs and retains),
 * what comes back (suggestions with a certainty and the backend that made them, plus notes that
 * explain an empty or shortened answer), and the interface every backend implements.
 */
import type { ConceptKind } from '../concept-sets.ts';
import type { Certainty } from './certainty.ts';

export interface ProposalRequest {
  readonly concept: string;
  readonly kind: ConceptKind;
  /** How many coreferential concepts to propose at most (M). */
  readonly corefs: number;
  /** How many retained concepts to propose at most (N). */
  readonly retains: number;
}

export interface Suggestion {
  readonly concept: string;
  readonly certainty: Certainty;
  /** The backend that proposed it, e.g. "wordnet-3.1" or "transformers:onnx-community/Qwen2.5-0.5B-Instruct". */
  readonly source: string;
}

export interface Proposal {
  readonly concept: string;
  readonly kind: ConceptKind;
  readonly source: string;
  /** Erased with the target, surest first. */
  readonly corefs: readonly Suggestion[];
  /** Kept next to it, surest first. */
  readonly retains: readonly Suggestion[];
  /** Why the answer is empty or shorter than asked, what was dropped from a reply, ... */
  readonly notes: readonly string[];
}

/** Model download and warm-up progress of a backend that needs one. */
export interface ProposerProgress {
  readonly phase: 'download' | 'load' | 'generate';
  readonly file?: string;
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
  /** A line to show as is. */
  readonly message: string;
}

export interface ProposeOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ProposerProgress) => void;
}

/** What a backend returns before the shared clean-up (dedupe, target removal, limits). */
export interface RawProposal {
  readonly corefs: readonly Suggestion[];
  readonly retains: readonly Suggestion[];
  readonly notes: readonly string[];
}

export interface ProposerBackend {
  /** Stable id, as the CLI's --backend takes it: "wordnet", "prompt-api", "transformers:HUB_ID". */
  readonly id: string;
  /** What the UI shows. */
  readonly label: string;
  propose(request: ProposalRequest, options?: ProposeOptions): Promise<RawProposal>;
}

export const MAX_SUGGESTIONS = 32;
