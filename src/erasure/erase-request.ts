import type { ConceptSetInput } from './concept-sets.ts';
import type { ClosedFormSolver } from './closed-form.ts';
import type { RealEraOptions } from './realera.ts';
import type { ErasureMethod } from './recipe.ts';
import type { SharedRowsMode } from './shared-rows.ts';
import type { TokenSelectionMode } from './token-selection.ts';

/** A closed-form erasure as the UI and the CLI ask for it, and what the computed edit reports. */
export interface EraseRequest {
  concepts: ConceptSetInput;
  method: ErasureMethod;
  /** Prompt templates with one "{}" each; default: the concept kind's templates. */
  templates?: string[];
  tokens: TokenSelectionMode;
  /** Keep the rows no concept is written into (the empty prompt's, the templates' prefixes); default 'keep'. */
  sharedRows?: SharedRowsMode;
  /** RealEra sampling (method 'realera'); seed defaults to 0. */
  realera?: { options?: Partial<RealEraOptions>; seed?: number };
  closedForm?: { lambda?: number; eraseScale?: number; preserveScale?: number; solver?: ClosedFormSolver };
}

export interface EditSummary {
  /** sha256 of the canonical recipe: identifies the edit. */
  id: string;
  /** Canonical recipe JSON: recomputes this edit bit for bit. */
  recipe: string;
  eraseVectors: number;
  preserveVectors: number;
  /** Rank of W' - W (= erase vectors). */
  rank: number;
  neighbors: number;
  beyond: number;
  solver: string;
  ms: { encode: number; sample: number; solve: number; total: number };
}
