import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

/** An attribute value after load: ONNX ints/floats/strings, or a folded constant tensor. */
export type OpAttribute = number | number[] | string | Float32Array | Int32Array;

/**
 * One compute node of a piece graph after shape folding. Static shapes are known. Every
 * integer operand that was a shape computation (Reshape target, Slice starts/ends/axes/steps,
 * Split sizes, Resize roi/scales/sizes, Expand shape, Unsqueeze/Squeeze/Reduce axes, Gather
 * indices) has been resolved into `attributes` and its slot in `inputs` set to '' (so input
 * positions stay ONNX positions; the forward sees null there). What each op resolves is
 * documented next to its forward in ops/ (e.g. Slice: normalized `starts`, `steps`, `axes`).
 */
export interface OpNode {
  opType: string;
  name: string;
  /** Tensor names; '' for an absent optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OpAttribute>;
  /** Static shapes of inputs and outputs, aligned with `inputs` / `outputs` ([] for absent). */
  inputShapes: number[][];
  outputShapes: number[][];
}

export interface OpContext {
  ctx: GpuContext;
}

/**
 * Forward of one op on GPU tensors; static shapes known. `inputs[i]` is null for an absent
 * optional input. `saved` is what its VJP rule will need beyond its inputs and outputs
 * (e.g. normalization mean/rstd); inputs and outputs themselves are on the tape anyway.
 * Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) return tensors that share the
 * input's buffer: the executor releases a buffer only when its last view is dead.
 */
export type ForwardFn = (ctx: GpuContext, inputs: (GpuTensor | null)[], node: OpNode) => { outputs: GpuTensor[]; saved?: GpuTensor[] };

/** What `forward({ record: true })` keeps per executed node, in execution order. */
export interface TapeEntry {
  node: OpNode;
  inputs: (GpuTensor | null)[];
  outputs: GpuTensor[];
  saved?: GpuTensor[];
}
