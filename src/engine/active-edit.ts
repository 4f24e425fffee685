import type { ClosedFormProblem, EditOperator } from '../erasure/closed-form.ts';
import type { GpuEmbeddingEdit } from '../erasure/edit-embedding.ts';
import type { ErasureRecipe } from '../erasure/recipe.ts';
import type { KvDeltas } from '../pipeline/unet/kv-projection.ts';
import type { EditSummary, LoraImportSummary } from './api.ts';

/**
 * The edit the "edited" variant uses. A closed-form edit changes every projection by the same
 * M, so it is applied to the embedding once (W'e = W(Me)); an imported LoRA adds its per-layer
 * low-rank deltas where K and V are projected.
 */
export type ActiveEdit =
  | {
      kind: 'closed-form';
      id: string;
      operator: EditOperator;
      problem: ClosedFormProblem;
      recipe: ErasureRecipe;
      embeddingEdit: GpuEmbeddingEdit;
      summary: EditSummary;
    }
  | { kind: 'lora'; id: string; deltas: KvDeltas; summary: LoraImportSummary };

export function releaseEdit(edit: ActiveEdit | null): void {
  if (!edit) return;
  if (edit.kind === 'closed-form') edit.embeddingEdit.release();
  else for (const delta of [...edit.deltas.toK.values(), ...edit.deltas.toV.values()]) {
    delta.up.release();
    delta.down.release();
  }
}
