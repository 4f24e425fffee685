/**
 * The WGSL graph executor: a UNet piece (ONNX) folded at load to GPU compute nodes with static
 * shapes, run node by node on our kernels. With `record`, it keeps a tape for the VJP rules;
 * without, it frees each intermediate as soon as no later node reads it.
 *
 * Storage: every float tensor is f32 on the GPU. fp16 packs are converted to f32 when their
 * weights are uploaded (their Casts become views), which keeps training numerics in f32 and
 * works on adapters without shader-f16; the cost is twice the weight memory of an fp16 pack.
 * Integer runtime inputs (the timestep) are passed as f32 tensors holding integers.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { ModelProto } from '../formats/onnx/types.ts';
import { TensorDataType } from '../formats/onnx/types.ts';
import { InputError, ShapeError } from '../util/errors.ts';
import { foldGraph, tensorToFloat64, type FoldedGraph, type GraphConstant, type GraphValue } from './fold.ts';
import { FLOAT_TYPES } from './fold-eval.ts';
import type { ForwardFn, OpNode, TapeEntry } from './op-types.ts';
import { forwardOf, fuseAttention, insertLora } from './graph-rewrites.ts';
import { loraParameterNames, type LoraAdapter } from './parameters.ts';

export type { LoraAdapter };

export interface LoadOptions {
  /**
   * Replace each attention pattern by one fused LetheAttention node (never materializes the
   * score matrix; its backward recomputes). Default false.
   */
  fuseAttention?: boolean;
  /**
   * LoRA factors on MatMuls with constant weights (to_q, to_out.0, ...): a LetheLora node after
   * each adapted MatMul reads them, so backward can ask for their gradients by name
   * (`PieceGraph.parameters`). The tensors are bound at every forward, so in-place updates
   * (Adam) take effect; they stay the caller's. `ParameterSet.adapters()` gives them.
   */
  lora?: readonly LoraAdapter[];
}

export interface ForwardOptions {
  /** Keep every node's inputs, outputs and saved tensors (for backward); nothing is freed. */
  record?: boolean;
}

export interface RunOptions {
  /** Keep a tape of the range (nothing is freed). */
  record?: boolean;
  /** Names an unrecorded run keeps in `values` after their last reader (the cut tensors a recomputing pass stores). */
  keep?: ReadonlySet<string>;
}

export interface ForwardResult {
  outputs: Record<string, GpuTensor>;
  tape?: TapeEntry[];
}

export interface PieceGraph {
  readonly file: string;
  /** Runtime inputs with their static shapes (integer ones are passed as f32). */
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  /** LoRA factors this piece reads (names `<module>.lora_A` / `.lora_B`), bound from the load options. */
  readonly parameters: readonly GraphValue[];
  /** GPU compute nodes in execution order. */
  readonly nodes: readonly OpNode[];
  /** Uploaded weights and folded constants the nodes read, by tensor name. */
  readonly constants: ReadonlyMap<string, GpuTensor>;
  /** Shape-arithmetic nodes evaluated at load. */
  readonly foldedCount: number;
  /**
   * Records one forward pass on the GPU (nothing is awaited). Inputs must have the shapes given
   * at load. Outputs belong to the caller: free them with releaseStorage() (an output can be a
   * view of a tensor the graph made), except outputs that view an input. With `record`, the
   * tape's tensors are the caller's too (see releaseTape).
   */
  forward(inputs: Record<string, GpuTensor>, options?: ForwardOptions): ForwardResult;
  /** Checks the inputs and returns the name -> tensor map a run starts from (inputs, weights, parameters). */
  bind(inputs: Record<string, GpuTensor>): Map<string, GpuTensor>;
  /**
   * Runs nodes [from, to) on `values`, adding what they produce. Unrecorded, it drops each name
   * from `values` once its last reader in the whole graph has run, unless `keep` names it, and
   * frees the tensors it made then; tensors that were in `values` before are dropped but never
   * freed. Recorded, it frees and drops nothing and returns the tape.
   * Segments of a piece run this way are what recomputation recomputes.
   */
  run(values: Map<string, GpuTensor>, from: number, to: number, options?: RunOptions): TapeEntry[] | undefined;
  /** Frees what a recorded tape holds, except graph inputs, parameters, constants and `keep`. */
  releaseTape(tape: readonly TapeEntry[], keep?: Iterable<GpuTensor>): void;
  /** Frees the uploaded constants. */
  release(): void;
}

/** Folds `model` for the given input shapes and uploads its weights once. */
export function loadPieceGraph(ctx: GpuContext, model: ModelProto, inputShapes: Record<string, readonly number[]>, file: string, options: LoadOptions = {}): PieceGraph {
  const folded = foldGraph(model, inputShapes, file);
  if (options.fuseAttention) fuseAttention(folded, file);
  const parameters = options.lora ? insertLora(folded, options.lora, file) : [];
  const bound = new Map<string, GpuTensor>();
  for (const adapter of options.lora ?? []) {
    const names = loraParameterNames(adapter.module);
    bound.set(names.a, adapter.a).set(names.b, adapter.b);
  }
  const parameterTensors = new Map(parameters.map((p) => [p.name, bound.get(p.name)!]));
  const constants = new Map<string, GpuTensor>();
  try {
    for (const [name, constant] of folded.constants) constants.set(name, uploadConstant(ctx, name, constant, file));
  } catch (error) {
    for (const tensor of constants.values()) tensor.release();
    throw error;
  }
  return new FoldedPieceGraph(ctx, folded, constants, parameters, parameterTensors, file);
}

function uploadConstant(ctx: GpuContext, name: string, constant: GraphConstant, file: string): GpuTensor {
  const [shape, elemType, values] =
    constant.kind === 'host'
      ? [constant.value.dims, constant.value.elemType, constant.value.data]
      : [constant.shape, constant.tensor.dataType, constant.tensor.dataType === TensorDataType.FLOAT ? null : tensorToFloat64(constant.tensor, file)];
  // Booleans (Where conditions) go up as i32; everything else as f32.
  if (elemType === TensorDataType.BOOL) return ctx.uploadInt32(Int32Array.from(values!), shape);
  if (values) return ctx.upload(Float32Array.from(values), shape);
  if (constant.kind !== 'initializer') throw new Error('unreachable');
  // fp32 initializers: straight from the bytes, no float64 detour for large weights.
  const raw = constant.tensor.rawData;
  const data = raw ? new Float32Array(raw.slice().buffer) : Float32Array.from(constant.tensor.floatData ?? []);
  if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new ShapeError(`${file}: initializer "${name}" holds ${data.length} values for shape [${shape}]`);
  return ctx.upload(data, shape);
}

class FoldedPieceGraph implements PieceGraph {
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  readonly nodes: readonly OpNode[];
  readonly foldedCount: number;
  private readonly forwards: ForwardFn[];
  /** For each node, the input names whose last reader it is (freed after it runs). */
  private readonly lastUses: string[][];

  constructor(
    private readonly ctx: GpuContext,
    folded: FoldedGraph,
    readonly constants: Map<string, GpuTensor>,
    readonly parameters: readonly GraphValue[],
    private readonly parameterTensors: ReadonlyMap<string, GpuTensor>,
    readonly file: string,
  ) {
    this.inputs = folded.inputs;
    this.outputs = folded.outputs;
    this.nodes = folded.nodes;
    this.foldedCount = folded.foldedCount;
    this.forwards = folded.nodes.map(forwardOf);
    const last = new Map<string, number>();
    folded.nodes.forEach((node, i) => node.inputs.forEach((name) => name && last.set(name, i)));
    for (const o of folded.outputs) last.set(o.name, Infinity);
    this.lastUses = folded.nodes.map(() => []);
    for (const [name, i] of last) if (Number.isFinite(i)) this.lastUses[i].push(name);
    // Outputs of a node that nothing reads are dead at once.
    folded.nodes.forEach((node, i) => node.outputs.forEach((name) => name && !last.has(name) && this.lastUses[i].push(name)));
  }

  forward(given: Record<string, GpuTensor>, options: ForwardOptions = {}): ForwardResult {
    const values = this.bind(given);
    const tape = this.run(values, 0, this.nodes.length, { record: options.record });
    const outputs: Record<string, GpuTensor> = {};
    for (const o of this.outputs) outputs[o.name] = values.get(o.name)!;
    return { outputs, tape };
  }

  bind(given: Record<string, GpuTensor>): Map<string, GpuTensor> {
    const values = new Map<string, GpuTensor>();
    for (const input of this.inputs) {
      const tensor = given[input.name];
      if (!tensor) throw new InputError(`${this.file}: input "${input.name}" is missing`);
      if (tensor.shape.join() !== input.shape.join()) throw new InputError(`${this.file}: input "${input.name}" has shape [${tensor.shape}], loaded for [${input.shape}]`);
      const integral = !FLOAT_TYPES.has(input.elemType);
      if (tensor.dtype !== 'f32') throw new InputError(`${this.file}: input "${input.name}" must be an f32 tensor${integral ? ' (integers as floats)' : ''}, got ${tensor.dtype}`);
      values.set(input.name, tensor);
    }
    for (const [name, tensor] of [...this.constants, ...this.parameterTensors]) values.set(name, tensor);
    return values;
  }

  run(values: Map<string, GpuTensor>, from: number, to: number, options: RunOptions = {}): TapeEntry[] | undefined {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= this.nodes.length)) throw new RangeError(`${this.file}: node range [${from}, ${to}) is not inside [0, ${this.nodes.length}]`);
    // What the caller handed in (inputs, weights, stored cut tensors) is never freed here, views of it included.
    const pinned = new Set<GPUBuffer>([...values.values()].map((t) => t.buffer));
    const keep = options.keep ?? new Set<string>();
    // Live names per buffer: views share their producer's buffer.
    const live = new Map<GPUBuffer, number>();
    const tape: TapeEntry[] | undefined = options.record ? [] : undefined;
    for (let i = from; i < to; i++) {
      const node = this.nodes[i];
      const inputs = node.inputs.map((name) => {
        if (!name) return null;
        const tensor = values.get(name);
        if (!tensor) throw new InputError(`${this.file}: ${node.opType} "${node.name}" reads "${name}", which the caller did not give and nodes [${from}, ${i}) did not produce`);
        return tensor;
      });
      let result: ReturnType<ForwardFn>;
      try {
        result = this.forwards[i](this.ctx, inputs, node);
      } catch (error) {
        throw new ShapeError(`${this.file}: ${node.opType} "${node.name}" failed: ${(error as Error).message}`);
      }
      node.outputs.forEach((name, k) => {
        if (!name) return;
        const tensor = result.outputs[k];
        values.set(name, tensor);
        live.set(tensor.buffer, (live.get(tensor.buffer) ?? 0) + 1);
      });
      if (tape) {
        tape.push({ node, inputs, outputs: result.outputs, saved: result.saved });
        continue;
      }
      for (const tensor of result.saved ?? []) tensor.release();
      for (const name of this.lastUses[i]) {
        if (keep.has(name)) continue;
        const tensor = values.get(name);
        if (!tensor) continue;
        values.delete(name);
        const buffer = tensor.buffer;
        if (pinned.has(buffer)) continue;
        const left = live.get(buffer)! - 1;
        live.set(buffer, left);
        if (left === 0) this.ctx.pool.release(buffer);
      }
    }
    return tape;
  }

  releaseTape(tape: readonly TapeEntry[], keep: Iterable<GpuTensor> = []): void {
    // Graph inputs and constants stay, views of them included (a Reshape of an input shares
    // its buffer); so do tensors the caller keeps.
    const given = new Set([...this.inputs.map((i) => i.name), ...this.constants.keys(), ...this.parameterTensors.keys()]);
    const protectedBuffers = new Set<GPUBuffer>([...keep].map((t) => t.buffer));
    for (const entry of tape) entry.node.inputs.forEach((name, i) => name && given.has(name) && protectedBuffers.add(entry.inputs[i]!.buffer));
    for (const entry of tape) for (const t of [...entry.outputs, ...(entry.saved ?? [])]) if (!t.isReleased && !protectedBuffers.has(t.buffer)) t.releaseStorage();
  }

  release(): void {
    for (const tensor of this.constants.values()) tensor.release();
    this.constants.clear();
  }
}
