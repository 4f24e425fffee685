import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';

/**
 * The part of the executor's OpNode (op-types.ts) the VJP rules read; structural, so fused
 * nodes made by matchAttention and hand-made test nodes fit too.
 */
export interface GraphNode {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** What a VJP rule gets about one recorded application of its op. */
export interface VjpContext {
  readonly ctx: GpuContext;
  readonly node: GraphNode;
  /** Forward inputs as the op saw them (undefined for omitted optional inputs). Never released by rules. */
  readonly inputs: readonly (GpuTensor | null | undefined)[];
  /** Forward outputs. Never released by rules. */
  readonly outputs: readonly (GpuTensor | undefined)[];
  /** What the op's forward chose to keep (e.g. attention's log-sum-exp), as on the tape. */
  readonly saved?: readonly GpuTensor[];
  /** needs[i]: whether input i wants a gradient; rules return null for the others. */
  readonly needs: readonly boolean[];
  /**
   * CPU values of constant integer inputs that were not folded into attributes (the executor
   * folds Slice starts/steps/axes and Reduce axes into attributes; then this is never asked).
   */
  constant(index: number): readonly number[] | undefined;
}

/**
 * Reverse mode of one op: gradients of the inputs from gradients of the outputs (null where
 * an output does not reach the loss). Returned tensors are new and owned by the caller; the
 * rule releases its own temporaries and never the tensors it was given.
 */
export type VjpRule = (v: VjpContext, gradOutputs: readonly (GpuTensor | null)[]) => (GpuTensor | null)[];

/** An op's derivative, and, for ops Lethe adds to graphs (fused attention), its forward. */
export interface OpRule {
  backward: VjpRule;
  /** Output slots that carry gradients: 'all', or by default only output 0. */
  differentiableOutputs?: 'all';
}
