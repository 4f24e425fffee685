/**
 * Read-only queries on a GraphProto: nodes by name, op type or output, producer and consumer
 * maps, topological order. Pure functions; edits live in graph-edit.ts.
 */
import { FormatError } from '../../util/errors.ts';
import type { GraphProto, NodeProto } from './types.ts';

export function nodeLabel(node: NodeProto): string {
  return node.name ? `node "${node.name}" (${node.opType})` : `a ${node.opType} node with outputs [${node.output.join(', ')}]`;
}

export function findNode(graph: GraphProto, name: string): NodeProto | undefined {
  return graph.node.find((node) => node.name === name);
}

/** The node named `name`, or a FormatError naming the file and the missing node. */
export function requireNode(graph: GraphProto, name: string, file = 'graph'): NodeProto {
  const node = findNode(graph, name);
  if (node === undefined) throw new FormatError(file, 'graph.node', `no node named "${name}"`);
  return node;
}

export function nodesByOpType(graph: GraphProto, opType: string, domain = ''): NodeProto[] {
  return graph.node.filter((node) => node.opType === opType && (node.domain ?? '') === domain);
}

/** tensor name -> the node that outputs it. */
export function producers(graph: GraphProto): Map<string, NodeProto> {
  const map = new Map<string, NodeProto>();
  for (const node of graph.node) for (const output of node.output) if (output !== '') map.set(output, node);
  return map;
}

/** tensor name -> the nodes that read it (each node once, in graph order). */
export function consumers(graph: GraphProto): Map<string, NodeProto[]> {
  const map = new Map<string, NodeProto[]>();
  for (const node of graph.node) {
    for (const input of new Set(node.input)) {
      if (input === '') continue;
      const list = map.get(input);
      if (list) list.push(node);
      else map.set(input, [node]);
    }
  }
  return map;
}

/** Tensors a graph gets from outside its nodes: its inputs and initializers. */
export function graphSources(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const input of graph.input) names.add(input.name);
  for (const tensor of graph.initializer) if (tensor.name) names.add(tensor.name);
  return names;
}

/**
 * The nodes in an order where every node comes after the producers of its inputs (stable: keeps
 * graph order where it is already valid). Inputs that no node produces count as given (graph
 * inputs, initializers, outer scope of a subgraph). A cycle is a FormatError naming a node on it.
 */
export function topologicalOrder(graph: GraphProto, file = 'graph'): NodeProto[] {
  const producer = producers(graph);
  const index = new Map(graph.node.map((node, i) => [node, i]));
  const pending = new Map<NodeProto, number>();
  const dependents = new Map<NodeProto, NodeProto[]>();
  for (const node of graph.node) {
    const deps = new Set<NodeProto>();
    for (const input of node.input) {
      const p = input === '' ? undefined : producer.get(input);
      if (p !== undefined) deps.add(p);
    }
    if (deps.has(node)) throw new FormatError(file, 'graph.node', `${nodeLabel(node)} reads its own output`);
    pending.set(node, deps.size);
    for (const d of deps) {
      const list = dependents.get(d);
      if (list) list.push(node);
      else dependents.set(d, [node]);
    }
  }
  // Kahn's algorithm taking the ready node earliest in graph order: a graph that is already
  // sorted comes back in the same order.
  const ready = new IndexHeap();
  graph.node.forEach((node, i) => pending.get(node) === 0 && ready.push(i));
  const order: NodeProto[] = [];
  while (ready.size > 0) {
    const node = graph.node[ready.pop()];
    order.push(node);
    for (const next of dependents.get(node) ?? []) {
      const left = pending.get(next)! - 1;
      pending.set(next, left);
      if (left === 0) ready.push(index.get(next)!);
    }
  }
  if (order.length !== graph.node.length) {
    const stuck = graph.node.filter((node) => pending.get(node)! > 0).sort((a, b) => index.get(a)! - index.get(b)!);
    throw new FormatError(file, 'graph.node', `cycle through ${nodeLabel(stuck[0])} (${stuck.length} nodes cannot be ordered)`);
  }
  return order;
}

/** Nodes that `targets` depend on, stopping at tensors in `stopAt` (those count as given). */
export function ancestorNodes(graph: GraphProto, targets: Iterable<string>, stopAt: ReadonlySet<string> = new Set()): Set<NodeProto> {
  const producer = producers(graph);
  const found = new Set<NodeProto>();
  const stack = [...targets];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (seen.has(tensor) || stopAt.has(tensor)) continue;
    seen.add(tensor);
    const node = producer.get(tensor);
    if (node === undefined || found.has(node)) continue;
    found.add(node);
    for (const input of node.input) if (input !== '') stack.push(input);
  }
  return found;
}

/** A binary min-heap of node indices. */
class IndexHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= a[i]) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
