/**
 * Trainable parameters inside piece graphs: LoRA on attention projections (to_q, to_out.0, or
 * any MatMul with a constant weight), as graph tensors the backward sweep can differentiate.
 *
 * How the executor exposes them (the hook):
 * 1. Before preparing a piece, call `insertLoraNodes(nodes, adapters)`. For each MatMul whose
 *    module (from its node name, `/down_blocks.0/.../attn1/to_q/MatMul` ->
 *    `down_blocks.0....attn1.to_q`) has an adapter, the MatMul's output is renamed
 *    `<out>/base` and a `LetheLora` node [x, <out>/base, <module>.lora_A, <module>.lora_B]
 *    -> <out> (attribute alpha) is inserted after it. Nothing else in the graph changes.
 * 2. Treat the returned `parameterNames` like extra graph inputs: bind them to the GPU
 *    tensors of a `ParameterSet` at each forward (no upload; they live on the GPU), with
 *    static shapes [r, in] and [out, r].
 * 3. Run `LetheLora` (ops/lora.ts: its forward and backward) and record it on the tape like
 *    any op.
 * 4. Ask `backward(..., { wrt: parameterNames })` for the factor gradients.
 * executor.ts loadPieceGraph(..., { lora: parameterSet.adapters() }) does steps 1-3 (graph-rewrites.ts).
 * attn2 to_k / to_v need none of this: their LoRA acts on the K/V inputs (lora.ts).
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { ShapeError } from '../util/errors.ts';
import { initLora, type LoraFactors } from './lora.ts';
import { LORA_OP } from './ops/lora.ts';
import type { GraphNode } from './ops/op.ts';

export { LORA_OP };

/** diffusers module path of an exported node: '/a.0/b/c/MatMul' -> 'a.0.b.c'. */
export function moduleOfNode(nodeName: string): string {
  const parts = nodeName.split('/').filter(Boolean);
  return parts.slice(0, -1).join('.');
}

export interface LoraAdapterSpec {
  /** diffusers module name, e.g. 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'. */
  module: string;
  alpha: number;
}

/** An adapter with its factors on the GPU, A [r, in], B [out, r]: what loadPieceGraph's `lora` takes. */
export interface LoraAdapter extends LoraAdapterSpec {
  a: GpuTensor;
  b: GpuTensor;
}

export interface LoraInsertion {
  nodes: GraphNode[];
  /** Tensor names of the inserted factors, A then B per adapted module. */
  parameterNames: string[];
  /** Modules of `adapters` no MatMul in the graph matched (e.g. in another piece). */
  unmatched: string[];
}

export const loraParameterNames = (module: string): { a: string; b: string } => ({ a: `${module}.lora_A`, b: `${module}.lora_B` });

export function insertLoraNodes(nodes: readonly GraphNode[], adapters: readonly LoraAdapterSpec[]): LoraInsertion {
  const byModule = new Map(adapters.map((spec) => [spec.module, spec]));
  const matched = new Set<string>();
  const out: GraphNode[] = [];
  const parameterNames: string[] = [];
  for (const node of nodes) {
    const spec = node.opType === 'MatMul' ? byModule.get(moduleOfNode(node.name)) : undefined;
    if (!spec) {
      out.push(node);
      continue;
    }
    if (matched.has(spec.module)) throw new ShapeError(`insertLoraNodes: module ${spec.module} has more than one MatMul (${node.name})`);
    matched.add(spec.module);
    const base = `${node.outputs[0]}/base`;
    const names = loraParameterNames(spec.module);
    out.push({ ...node, outputs: [base] });
    out.push({ opType: LORA_OP, name: `${node.name}/lora`, inputs: [node.inputs[0], base, names.a, names.b], outputs: [node.outputs[0]], attributes: { alpha: spec.alpha } });
    parameterNames.push(names.a, names.b);
  }
  return { nodes: out, parameterNames, unmatched: adapters.map((s) => s.module).filter((m) => !matched.has(m)) };
}


/** LoRA factors by module, on the GPU, addressable by their graph tensor names. */
export class ParameterSet {
  private readonly factors = new Map<string, LoraFactors>();

  constructor(private readonly ctx: GpuContext) {}

  /** Adds fresh factors (B = 0) for a module of the given projection size. */
  addLora(module: string, inFeatures: number, outFeatures: number, rank: number, alpha: number, seed: number): LoraFactors {
    if (this.factors.has(module)) throw new ShapeError(`ParameterSet: ${module} already has LoRA factors`);
    const factors = initLora(this.ctx, inFeatures, outFeatures, rank, alpha, seed);
    this.factors.set(module, factors);
    return factors;
  }

  get(module: string): LoraFactors | undefined {
    return this.factors.get(module);
  }

  /** Graph tensor name -> tensor, for binding as executor inputs. */
  tensors(): Map<string, GpuTensor> {
    const out = new Map<string, GpuTensor>();
    for (const [module, f] of this.factors) {
      const names = loraParameterNames(module);
      out.set(names.a, f.a);
      out.set(names.b, f.b);
    }
    return out;
  }

  /** Every module's factors, for loadPieceGraph(..., { lora }). */
  adapters(): LoraAdapter[] {
    return [...this.factors].map(([module, f]) => ({ module, alpha: f.alpha, a: f.a, b: f.b }));
  }

  specs(): LoraAdapterSpec[] {
    return [...this.factors].map(([module, f]) => ({ module, alpha: f.alpha }));
  }

  dispose(): void {
    for (const f of this.factors.values()) {
      f.a.release();
      f.b.release();
    }
    this.factors.clear();
  }
}
