/**
 * Graph edits the pack converter needs, as pure functions (the input graph is not modified;
 * untouched nodes, tensors and initializers are shared with it):
 * - replaceTensorWithInput: cut out the node producing a tensor (attn2/to_k/MatMul) and feed the
 *   tensor as a new graph input (k_<i>) instead;
 * - removeDeadCode: drop nodes and initializers that no graph output depends on;
 * - extractSubgraph / splitGraph: pieces of a graph between cut tensors.
 */
import { FormatError } from '../../util/errors.ts';
import { inferElemTypes } from './elem-types.ts';
import { ancestorNodes, consumers, graphSources, nodeLabel, producers, topologicalOrder } from './graph.ts';
import type { GraphProto, NodeProto, TensorProto, ValueInfoProto } from './types.ts';

function renameInputs(node: NodeProto, from: string, to: string): NodeProto {
  return node.input.includes(from) ? { ...node, input: node.input.map((name) => (name === from ? to : name)) } : node;
}

/** Declared type of a tensor (graph input/output/value_info), else its inferred element type, else none. */
function valueInfoFor(graph: GraphProto, name: string, inferred: () => Map<string, number>): ValueInfoProto | undefined {
  const declared = [...graph.input, ...graph.output, ...(graph.valueInfo ?? [])].find((v) => v.name === name && v.type?.tensorType);
  if (declared) return declared;
  const initializer = graph.initializer.find((t) => t.name === name);
  if (initializer)
    return {
      name,
      type: { tensorType: { elemType: initializer.dataType, shape: { dim: (initializer.dims ?? []).map((d) => ({ dimValue: d })) } } },
    };
  const elemType = inferred().get(name);
  return elemType === undefined ? undefined : { name, type: { tensorType: { elemType } } };
}

function requireValueInfo(graph: GraphProto, name: string, inferred: () => Map<string, number>, file: string, why: string): ValueInfoProto {
  const info = valueInfoFor(graph, name, inferred);
  if (info === undefined) throw new FormatError(file, name, `element type unknown (needed ${why}): declare it in graph.value_info`);
  return info;
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * Removes what no graph output depends on: nodes (iteratively), initializers nobody reads (and
 * their entries in graph.input, as old exports list initializers there), and value_info of
 * tensors that no longer exist. Graph inputs that are not initializers are kept: they are the
 * graph's interface.
 */
export function removeDeadCode(graph: GraphProto): GraphProto {
  const live = ancestorNodes(graph, graph.output.map((o) => o.name));
  const node = graph.node.filter((n) => live.has(n));
  const read = new Set<string>(graph.output.map((o) => o.name));
  for (const n of node) for (const input of n.input) read.add(input);
  const initializer = graph.initializer.filter((t) => t.name !== undefined && read.has(t.name));
  const dropped = new Set(graph.initializer.filter((t) => !initializer.includes(t)).map((t) => t.name));
  const input = graph.input.filter((i) => !dropped.has(i.name));
  const exists = new Set<string>([...input.map((i) => i.name), ...initializer.map((t) => t.name!)]);
  for (const n of node) for (const output of n.output) exists.add(output);
  const result: GraphProto = { ...graph, node, initializer, input };
  if (graph.valueInfo !== undefined) result.valueInfo = graph.valueInfo.filter((v) => exists.has(v.name));
  return result;
}

/**
 * The graph with `tensor` no longer computed but fed from outside: its producer node is
 * removed, every reader (nodes and graph outputs) reads the new input instead, and what only
 * served the removed node (its weight initializer, a Transpose before it, ...) is removed.
 * `input` is the new graph input's name, or its full ValueInfoProto; with a name only, the type
 * is the tensor's declared or inferred type.
 */
export function replaceTensorWithInput(graph: GraphProto, tensor: string, input: string | ValueInfoProto, file = 'graph'): GraphProto {
  return replaceTensorsWithInputs(graph, [{ tensor, input }], file);
}

export interface TensorReplacement {
  tensor: string;
  input: string | ValueInfoProto;
}

/**
 * replaceTensorWithInput for many tensors at once (one pass over the graph and one dead-code
 * sweep, instead of one per tensor: the converter replaces 32 projections in a UNet of
 * thousands of nodes). New inputs are appended in the order given.
 */
export function replaceTensorsWithInputs(graph: GraphProto, replacements: readonly TensorReplacement[], file = 'graph'): GraphProto {
  const producer = producers(graph);
  const sources = graphSources(graph);
  const readers = consumers(graph);
  const inferred = lazy(() => inferElemTypes(graph, file));
  const renames = new Map<string, string>();
  const removed = new Set<NodeProto>();
  const newNames = new Set<string>();
  const infos: ValueInfoProto[] = [];
  for (const { tensor, input } of replacements) {
    const node = producer.get(tensor);
    if (node === undefined) throw new FormatError(file, tensor, 'no node produces this tensor');
    if (renames.has(tensor)) throw new FormatError(file, tensor, 'replaced twice');
    const name = typeof input === 'string' ? input : input.name;
    if (name === '') throw new FormatError(file, tensor, 'the new input needs a name');
    if (newNames.has(name)) throw new FormatError(file, name, 'two replacements create this input');
    if (name !== tensor && (sources.has(name) || producer.has(name)))
      throw new FormatError(file, name, 'a tensor of this name already exists in the graph');
    for (const other of node.output) {
      if (other === tensor || other === '') continue;
      if (readers.has(other) || graph.output.some((o) => o.name === other))
        throw new FormatError(file, tensor, `${nodeLabel(node)} has another output "${other}" that is still read`);
    }
    let info: ValueInfoProto;
    if (typeof input !== 'string' && input.type?.tensorType) info = input;
    else info = { ...requireValueInfo(graph, tensor, inferred, file, 'for the new graph input'), name };
    renames.set(tensor, name);
    removed.add(node);
    newNames.add(name);
    infos.push(info);
  }
  const node = graph.node
    .filter((n) => !removed.has(n))
    .map((n) => (n.input.some((i) => renames.has(i)) ? { ...n, input: n.input.map((i) => renames.get(i) ?? i) } : n));
  const output = graph.output.map((o) => (renames.has(o.name) ? { ...o, name: renames.get(o.name)! } : o));
  const valueInfo = graph.valueInfo?.filter((v) => !renames.has(v.name));
  const edited: GraphProto = { ...graph, node, output, input: [...graph.input, ...infos] };
  if (valueInfo !== undefined) edited.valueInfo = valueInfo;
  return removeDeadCode(edited);
}

export interface SubgraphOptions {
  name?: string;
  /** The model's file name, for errors. */
  file?: string;
}

interface Piece {
  nodes: Set<NodeProto>;
  inputs: string[];
  outputs: string[];
}

function buildPiece(graph: GraphProto, piece: Piece, name: string, file: string, inferred: () => Map<string, number>): GraphProto {
  const order = topologicalOrder(graph, file).filter((n) => piece.nodes.has(n));
  const byName = new Map(graph.initializer.map((t) => [t.name, t]));
  const inputSet = new Set(piece.inputs);
  const produced = new Set<string>();
  for (const n of order) for (const o of n.output) if (o !== '') produced.add(o);
  const initializer: TensorProto[] = [];
  const extraInputs: string[] = [];
  const seen = new Set<string>();
  for (const n of order) {
    for (const tensor of n.input) {
      if (tensor === '' || produced.has(tensor) || inputSet.has(tensor) || seen.has(tensor)) continue;
      seen.add(tensor);
      const init = byName.get(tensor);
      if (init !== undefined) initializer.push(init);
      else if (graph.input.some((i) => i.name === tensor)) extraInputs.push(tensor);
      else throw new FormatError(file, tensor, `read by ${nodeLabel(n)} in piece "${name}" but neither computed there nor given to it`);
    }
  }
  for (const out of piece.outputs)
    if (!produced.has(out) && !inputSet.has(out)) throw new FormatError(file, out, `not computed in piece "${name}"`);
  const graphInputOrder = graph.input.map((i) => i.name).filter((n) => extraInputs.includes(n));
  const inputs = [...piece.inputs, ...graphInputOrder];
  const interfaceNames = new Set([...inputs, ...piece.outputs]);
  const result: GraphProto = {
    name,
    node: order,
    initializer,
    input: inputs.map((t) => requireValueInfo(graph, t, inferred, file, `as an input of piece "${name}"`)),
    output: piece.outputs.map((t) => valueInfoFor(graph, t, inferred) ?? { name: t }),
  };
  const valueInfo = (graph.valueInfo ?? []).filter((v) => produced.has(v.name) && !interfaceNames.has(v.name));
  if (valueInfo.length > 0) result.valueInfo = valueInfo;
  return result;
}

/**
 * The part of the graph computing `outputs` from `inputs`: the nodes between them, the
 * initializers they read, and any original graph inputs they also need (appended after
 * `inputs`). Types of new inputs come from value_info or element-type inference.
 */
export function extractSubgraph(graph: GraphProto, inputs: readonly string[], outputs: readonly string[], options: SubgraphOptions = {}): GraphProto {
  const file = options.file ?? 'graph';
  const nodes = ancestorNodes(graph, outputs, new Set(inputs));
  const inferred = lazy(() => inferElemTypes(graph, file));
  return buildPiece(graph, { nodes, inputs: [...inputs], outputs: [...outputs] }, options.name ?? graph.name ?? 'subgraph', file, inferred);
}

/**
 * Splits a graph into cuts.length + 1 consecutive pieces. Piece p (p < cuts.length) computes
 * everything cuts[p] depends on that no earlier piece computes, and outputs cuts[p]; the last
 * piece computes the graph outputs. Tensors crossing more than one boundary (UNet skip
 * connections) are found and passed along automatically: each piece also outputs what it
 * computes and a later piece reads, and takes as inputs what it reads from earlier pieces and
 * the original graph inputs. Piece inputs are ordered: earlier pieces' outputs, then graph inputs.
 * Chaining the pieces (feeding each its inputs by name) reproduces the graph.
 */
export function splitGraph(graph: GraphProto, cuts: readonly (readonly string[])[], options: SubgraphOptions = {}): GraphProto[] {
  const file = options.file ?? 'graph';
  const baseName = options.name ?? graph.name ?? 'piece';
  const producer = producers(graph);
  const sources = graphSources(graph);
  const assigned = new Map<NodeProto, number>();
  const targets = [...cuts.map((c) => [...c]), graph.output.map((o) => o.name)];
  const pieceNodes: Set<NodeProto>[] = targets.map((names, p) => {
    for (const name of names) {
      if (p < cuts.length && !producer.has(name))
        throw new FormatError(file, name, sources.has(name) ? `cut ${p} names a graph input or initializer` : `cut ${p} names an unknown tensor`);
      const earlier = producer.get(name);
      if (p < cuts.length && earlier !== undefined && assigned.has(earlier))
        throw new FormatError(file, name, `cut ${p} names a tensor already computed in piece ${assigned.get(earlier)}`);
    }
    const nodes = new Set<NodeProto>();
    for (const node of ancestorNodes(graph, names))
      if (!assigned.has(node)) {
        assigned.set(node, p);
        nodes.add(node);
      }
    return nodes;
  });

  const pieceOf = (tensor: string): number | undefined => {
    const node = producer.get(tensor);
    return node === undefined ? undefined : assigned.get(node);
  };
  const inputs: string[][] = targets.map(() => []);
  const outputs: string[][] = targets.map((names, p) => (p < cuts.length ? [...names] : []));
  const addOnce = (list: string[], name: string) => list.includes(name) || list.push(name);
  const order = topologicalOrder(graph, file);
  for (const [p, nodes] of pieceNodes.entries()) {
    for (const node of order) {
      if (!nodes.has(node)) continue;
      for (const tensor of node.input) {
        const from = tensor === '' ? undefined : pieceOf(tensor);
        if (from === undefined || from === p) continue;
        addOnce(inputs[p], tensor);
        addOnce(outputs[from], tensor);
      }
    }
  }
  for (const o of graph.output) {
    const from = pieceOf(o.name);
    if (from !== undefined) addOnce(outputs[from], o.name);
  }
  const inferred = lazy(() => inferElemTypes(graph, file));
  return pieceNodes.map((nodes, p) =>
    buildPiece(graph, { nodes, inputs: inputs[p], outputs: outputs[p] }, `${baseName}_${p}`, file, inferred),
  );
}
