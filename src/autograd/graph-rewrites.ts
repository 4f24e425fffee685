/**
 * Load-time rewrites of a folded piece graph, both opt-in through loadPieceGraph's options:
 * fused attention (ops/attention.ts matchAttention) and LoRA nodes on adapted MatMuls
 * (parameters.ts insertLoraNodes). Each keeps the folded form: static shapes on every node.
 */
import { TensorDataType } from '../formats/onnx/types.ts';
import { ShapeError } from '../util/errors.ts';
import { tensorToFloat64, type FoldedGraph, type GraphValue } from './fold.ts';
import type { ForwardFn, OpNode } from './op-types.ts';
import { opOf } from './ops/index.ts';
import { insertLoraNodes, LORA_OP, moduleOfNode, type LoraAdapter } from './parameters.ts';
import { matchAttention } from './ops/attention.ts';

/** Forward of any node the executor may hold, rewritten ones included: all come from the one registry. */
export function forwardOf(node: OpNode): ForwardFn {
  const op = opOf(node.opType);
  if (!op) throw new ShapeError(`${node.opType} "${node.name}": no GPU forward`);
  return op.forward;
}

/** Shape of every tensor the nodes read or write. */
function shapesOf(nodes: readonly OpNode[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const node of nodes) {
    node.inputs.forEach((name, i) => name && shapes.set(name, node.inputShapes[i]));
    node.outputs.forEach((name, i) => name && shapes.set(name, node.outputShapes[i]));
  }
  return shapes;
}

/**
 * Replaces each Mul-Mul-MatMul-Softmax-MatMul attention by one LetheAttention node at the
 * position of its last MatMul. Matches the kernel cannot run (rank other than 4, head dim not
 * a multiple of 4 or above 256) stay unfused. Returns how many were fused.
 */
export function fuseAttention(folded: FoldedGraph, file: string): number {
  const constant = (name: string): readonly number[] | undefined => {
    const c = folded.constants.get(name);
    if (!c) return undefined;
    if (c.kind === 'host') return Array.from(c.value.data);
    return c.shape.reduce((a, b) => a * b, 1) === 1 ? Array.from(tensorToFloat64(c.tensor, file)) : [Number.NaN, Number.NaN];
  };
  const shapes = shapesOf(folded.nodes);
  const fits = (q: number[] | undefined, kT: number[] | undefined): boolean => !!q && !!kT && q.length === 4 && kT.length === 4 && q[3] % 4 === 0 && q[3] <= 256;
  const matches = matchAttention(folded.nodes, constant, new Set(folded.outputs.map((o) => o.name))).filter((m) => fits(shapes.get(m.fused.inputs[0]), shapes.get(m.fused.inputs[1])));
  if (matches.length === 0) return 0;
  const replaced = new Set<object>();
  const fusedAt = new Map<object, OpNode>();
  for (const m of matches) {
    for (const node of m.replaced) replaced.add(node);
    const mix = m.replaced[4] as OpNode;
    fusedAt.set(mix, {
      opType: m.fused.opType,
      name: m.fused.name,
      inputs: [...m.fused.inputs],
      outputs: [...m.fused.outputs],
      attributes: { scale: m.fused.attributes.scale as number },
      inputShapes: m.fused.inputs.map((name) => shapes.get(name)!),
      outputShapes: [...mix.outputShapes],
    });
  }
  folded.nodes = folded.nodes.flatMap((node) => (fusedAt.has(node) ? [fusedAt.get(node)!] : replaced.has(node) ? [] : [node]));
  dropUnreadConstants(folded);
  return matches.length;
}

/** Constants only the replaced nodes read (the attention scale factors) are not uploaded. */
function dropUnreadConstants(folded: FoldedGraph): void {
  const read = new Set<string>(folded.outputs.map((o) => o.name));
  for (const node of folded.nodes) for (const name of node.inputs) if (name) read.add(name);
  for (const name of [...folded.constants.keys()]) if (!read.has(name)) folded.constants.delete(name);
}

/**
 * Inserts a LetheLora node after each MatMul whose module has an adapter (parameters.ts steps
 * 1-2) and returns the factor tensors as parameters with their static shapes. Adapters for
 * modules this piece lacks are ignored (they belong to another piece).
 */
export function insertLora(folded: FoldedGraph, adapters: readonly LoraAdapter[], file: string): GraphValue[] {
  const byModule = new Map(adapters.map((a) => [a.module, a]));
  const present = folded.nodes.filter((n) => n.opType === 'MatMul' && byModule.has(moduleOfNode(n.name)));
  if (present.length === 0) return [];
  const { nodes, parameterNames } = insertLoraNodes(folded.nodes, adapters);
  const shapes = shapesOf(folded.nodes);
  const parameters: GraphValue[] = [];
  folded.nodes = nodes.map((node) => {
    if (node.opType !== LORA_OP) return node as OpNode;
    const adapter = byModule.get(moduleOfNode(node.name.slice(0, -'/lora'.length)))!;
    const x = shapes.get(node.inputs[0])!;
    const y = shapes.get(node.outputs[0])!;
    const inFeatures = x[x.length - 1];
    const outFeatures = y[y.length - 1];
    const rank = adapter.a.shape[0];
    if (adapter.a.shape.join() !== [rank, inFeatures].join() || adapter.b.shape.join() !== [outFeatures, rank].join()) {
      throw new ShapeError(`${file}: LoRA on ${adapter.module} needs A [r, ${inFeatures}] and B [${outFeatures}, r], got [${adapter.a.shape}] and [${adapter.b.shape}]`);
    }
    parameters.push({ name: node.inputs[2], shape: [...adapter.a.shape], elemType: TensorDataType.FLOAT }, { name: node.inputs[3], shape: [...adapter.b.shape], elemType: TensorDataType.FLOAT });
    return { ...node, inputs: [...node.inputs], outputs: [...node.outputs], attributes: { alpha: adapter.alpha }, inputShapes: [x, y, [...adapter.a.shape], [...adapter.b.shape]], outputShapes: [y] };
  }) as OpNode[];
  if (parameters.length !== parameterNames.length) throw new Error('unreachable: LoRA parameters out of step');
  return parameters;
}
