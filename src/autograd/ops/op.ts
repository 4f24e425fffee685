/**
 * What an op is (forward, backward and load-time preparation together), and what each part sees.
 * ops/index.ts is the registry: one entry per ONNX op type.
 */
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import type { ForwardFn, OpAttribute } from '../op-types.ts';

/**
 * The part of the executor's OpNode (op-types.ts) a backward reads; structural, so fused
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

/** What an op sees at load: ONNX attributes, static input shapes and folded operand values. */
export interface PrepareArgs {
  /** For messages: `Conv "/conv_in/Conv"`. */
  label: string;
  attributes: Record<string, OpAttribute>;
  /** Aligned with the node's inputs; null for an absent optional input. */
  inputShapes: (number[] | null)[];
  /** Values of the inputs listed in `staticInputs` (null when absent). */
  operands: (Float64Array | null)[];
  /** How many outputs the node declares (Split without sizes splits evenly into them). */
  outputCount: number;
  opset: number;
}

export interface Prepared {
  /** Attributes the forward (and the VJP rule) reads: ONNX ones plus resolved operands. */
  attributes: Record<string, OpAttribute>;
  outputShapes: number[][];
}

/**
 * One op of the executor, in one place: `prepare` runs once at load (checks everything it can,
 * resolves folded operands into attributes, infers output shapes), `forward` runs every step,
 * `backward` is its derivative. Ops that only graph rewrites create (fused attention, LoRA) have
 * no `prepare`: their nodes arrive with shapes. An op without `backward` runs in inference only.
 */
export interface Op {
  /** Input positions that must be constant at load (shape operands); they become attributes. */
  staticInputs?: readonly number[];
  prepare?: (args: PrepareArgs) => Prepared;
  forward: ForwardFn;
  backward?: VjpRule;
  /** Output slots that carry gradients: 'all', or by default only output 0. */
  differentiableOutputs?: 'all';
}
