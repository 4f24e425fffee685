import type { ClosedFormProblem, EditOperator } from '../erasure/closed-form.ts';
import type { ErasureRecipe } from '../erasure/recipe.ts';
import type { KvDeltas } from '../pipeline/unet/kv-projection.ts';
import type { EditSummary, LoraImportSummary } from './api.ts';

/**
 * The edit the "edited" variant uses, always as per-layer low-rank deltas added where K and V
 * are projected. A closed-form edit W' = W M is applied through its exact factors
 * (up = W U, down = V^T): the same float32 numbers an exact LoRA export writes, so importing
 * that file reproduces the edited images bit for bit, and both kinds share one code path.
 */
export type ActiveEdit =
  | {
      kind: 'closed-form';
      id: string;
      operator: EditOperator;
      problem: ClosedFormProblem;
      recipe: ErasureRecipe;
      deltas: KvDeltas;
      summary: EditSummary;
    }
  | { kind: 'lora'; id: string; deltas: KvDeltas; summary: LoraImportSummary };

export function releaseEdit(edit: Pick<ActiveEdit, 'deltas'> | null): void {
  if (!edit) return;
  // A closed-form edit shares one `down` (V^T) across layers; release() is idempotent.
  for (const delta of [...edit.deltas.toK.values(), ...edit.deltas.toV.values()]) {
    delta.up.release();
    delta.down.release();
  }
}
