/**
 * What a training step on a pack would hold, from static shapes alone (no GPU; the graphs are
 * folded as at load, which reads the small initializers folding may evaluate):
 * each piece's recorded tape, and for each memory budget the mode and segment plans TrainingChain
 * would use with their estimated peak and the share of the forward run again in backward. This
 * is how packs too large for this machine's adapter (sd15-shapes at 64x64) are sized.
 */
import { decodeModel } from '../formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../formats/onnx/external-data.ts';
import { foldGraph, type FoldedGraph } from '../autograd/fold.ts';
import { fuseAttention } from '../autograd/graph-rewrites.ts';
import { planChain } from './training-chain.ts';
import { dimBindings, pieceInputShapes, type UnetShape } from './unet-pieces.ts';
import type { PackReader } from '../model/pack-reader.ts';
import type { PackManifest } from '../model/manifest.ts';

export interface TrainingPlanRow {
  /** null: unlimited. */
  budgetBytes: number | null;
  mode: 'recorded' | 'recomputed';
  segments: number[];
  estimatedPeakBytes: number;
  fitsBudget: boolean;
  /** Nodes run again in backward over nodes in one forward. */
  recomputeShare: number;
}

export interface TrainingPlanReport {
  shape: UnetShape;
  fuseAttention: boolean;
  nodes: number;
  /** Per piece: the recorded tape's estimated bytes. */
  pieceTapeBytes: number[];
  flowBytes: number;
  rows: TrainingPlanRow[];
}

export async function trainingPlan(manifest: Pick<PackManifest, 'dims' | 'pieces'>, read: PackReader['bytes'], shape: UnetShape, budgets: readonly number[], options: { fuseAttention?: boolean } = {}): Promise<TrainingPlanReport> {
  const bindings = dimBindings(manifest, shape);
  const pieces: FoldedGraph[] = [];
  for (const piece of manifest.pieces) {
    const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
    const model = await inlineExternalData(decodeModel(await read(piece.file), piece.file), piece.file, async (location) => externalDataFromBytes(await read(dir + location)));
    const folded = foldGraph(model, pieceInputShapes(piece, bindings), piece.file);
    if (options.fuseAttention) fuseAttention(folded, piece.file);
    pieces.push(folded);
  }
  const nodes = pieces.reduce((n, p) => n + p.nodes.length, 0);
  const rows: TrainingPlanRow[] = [Infinity, ...budgets].map((budget) => {
    const plan = planChain(pieces, budget);
    const recorded = plan.mode === 'recorded';
    // Recomputed: every piece re-runs once, and all but its tail segment a second time.
    const recomputed = recorded ? 0 : pieces.reduce((n, p, i) => n + p.nodes.length + plan.plans[i].boundaries.at(-2)!, 0);
    const estimatedPeakBytes = recorded ? plan.flowBytes + plan.recordedBytes : plan.flowBytes + Math.max(...plan.plans.map((p) => p.estimatedPeakBytes));
    return {
      budgetBytes: Number.isFinite(budget) ? budget : null,
      mode: plan.mode,
      segments: plan.plans.map((p) => p.boundaries.length - 1),
      estimatedPeakBytes,
      fitsBudget: estimatedPeakBytes <= budget,
      recomputeShare: recomputed / nodes,
    };
  });
  const unlimited = planChain(pieces, Infinity);
  return { shape, fuseAttention: options.fuseAttention ?? false, nodes, pieceTapeBytes: unlimited.plans.map((p) => p.estimatedPeakBytes), flowBytes: unlimited.flowBytes, rows };
}
