/**
 * The files `lethe erase` writes besides the recipe:
 *   --weights  every cross-attention projection edited, W' = W M, under its diffusers name
 *              (`<module>.to_k.weight`, `<module>.to_v.weight`), [out, in] float32 as torch
 *              stores it: drop-in replacements for the UNet's attn2 weights;
 *   --dump     the closed-form problem and its answer, for checking against another
 *              implementation: erase [n_e, d] (c_e), erase_target [n_e, d] (c*_e),
 *              preserve [n_p, d] (c_p), erase_scale [n_e], preserve_scale [n_p], lambda [1],
 *              M [d, d] (row-major, W' = W M). Float32: safetensors has no float64 in Lethe's
 *              whitelist; the solve itself ran in float64.
 * Both carry the recipe in `__metadata__` (lethe_recipe), so a file says how it was made.
 */
import { InputError } from '../../util/errors.ts';
import { applyEditOperator, editOperatorMatrix, type EditOperator } from '../../erasure/closed-form.ts';
import { resolveProblem, type ClosedFormProblem } from '../../erasure/closed-form-problem.ts';
import { writeSafetensors, type SafetensorsWriteTensor } from '../../formats/safetensors/index.ts';
import type { CrossAttentionLayer } from '../../model/manifest.ts';

export interface HostProjectionWeights {
  /** [out, in] row-major, as unet/cross_attention.safetensors stores it. */
  readonly toK: Float32Array;
  readonly toV: Float32Array;
}

/** Metadata both files carry. */
export interface EditFileMetadata {
  /** Canonical recipe JSON (EditSummary.recipe). */
  readonly recipe: string;
  /** EditSummary.id. */
  readonly editId: string;
}

export const EDITED_WEIGHTS_FORMAT = 'lethe-edited-cross-attention';
export const EDIT_DUMP_FORMAT = 'lethe-closed-form-dump';

/** W' = W M for every to_k and to_v, in layer order (to_k, then to_v). */
export function editedWeightsFile(
  operator: EditOperator,
  layers: readonly CrossAttentionLayer[],
  host: readonly HostProjectionWeights[],
  metadata: EditFileMetadata,
): Uint8Array {
  if (layers.length !== host.length) throw new InputError(`edited weights: ${layers.length} cross-attention layers but ${host.length} host weight pairs`);
  const tensors: [string, SafetensorsWriteTensor][] = [];
  layers.forEach((layer, i) => {
    for (const [projection, shape, weight] of [
      ['to_k', layer.toK.shape, host[i].toK],
      ['to_v', layer.toV.shape, host[i].toV],
    ] as const) {
      const name = `${layer.module}.${projection}.weight`;
      const [outFeatures, inFeatures] = shape;
      if (inFeatures !== operator.width)
        throw new InputError(`edited weights: ${name}: takes ${inFeatures} inputs, but the edit is for width ${operator.width}`);
      if (weight.length !== outFeatures * inFeatures)
        throw new InputError(`edited weights: ${name}: expected [${outFeatures}, ${inFeatures}] = ${outFeatures * inFeatures} values, got ${weight.length}`);
      tensors.push([name, { dtype: 'F32', shape: [outFeatures, inFeatures], data: applyEditOperator(operator, weight, outFeatures) }]);
    }
  });
  return writeSafetensors(tensors, { format: EDITED_WEIGHTS_FORMAT, lethe_edit_id: metadata.editId, lethe_recipe: metadata.recipe });
}

/** The problem's vectors and scales (defaults filled in, as the solver saw them) and M. */
export function editDumpFile(operator: EditOperator, problem: ClosedFormProblem, metadata: EditFileMetadata): Uint8Array {
  const resolved = resolveProblem(problem);
  const { width: d, nErase, count } = resolved;
  if (d !== operator.width) throw new InputError(`edit dump: the problem has width ${d} but the edit operator ${operator.width}`);
  if (nErase !== operator.rank) throw new InputError(`edit dump: the problem has ${nErase} erase vectors but the edit operator rank ${operator.rank}`);
  const nPreserve = count - nErase;
  const f32 = (shape: number[], values: Float64Array): SafetensorsWriteTensor => ({ dtype: 'F32', shape, data: Float32Array.from(values) });
  return writeSafetensors(
    [
      ['erase', f32([nErase, d], resolved.inputs.subarray(0, nErase * d))],
      ['erase_target', f32([nErase, d], resolved.eraseTargets)],
      ['preserve', f32([nPreserve, d], resolved.inputs.subarray(nErase * d))],
      ['erase_scale', f32([nErase], resolved.scales.subarray(0, nErase))],
      ['preserve_scale', f32([nPreserve], resolved.scales.subarray(nErase))],
      ['lambda', f32([1], Float64Array.of(resolved.lambda))],
      ['M', f32([d, d], editOperatorMatrix(operator))],
    ],
    { format: EDIT_DUMP_FORMAT, lethe_edit_id: metadata.editId, lethe_recipe: metadata.recipe },
  );
}
