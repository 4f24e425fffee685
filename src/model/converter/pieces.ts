/**
 * Splits the (K/V-edited) UNet graph into pieces at block boundaries.
 *
 * Plans: `default` = three pieces down (down_blocks.*), mid (mid_block), up (up_blocks.*);
 * `blocks` = one piece per block (down_blocks.0 ... mid_block ... up_blocks.3), for training
 * checkpoints.
 *
 * Assignment: a node named `/down_blocks.N/...`, `/mid_block/...`, `/up_blocks.N/...` belongs to
 * its block's piece. Every other node (conv_in, time_proj, time_embedding, conv_norm_out, conv_out,
 * and unprefixed Shape/Gather/Unsqueeze/Constant helpers) goes to the FIRST piece that reads its
 * output (a graph output's producer, to the last piece); so the time embedding is computed in the
 * first piece and passed on as an input to every later piece that uses it, and conv_out ends
 * the last. A Constant node read by several pieces is duplicated into each of them instead of
 * passing the constant between pieces. Tensors crossing a boundary become outputs of the piece
 * computing them and inputs of every later piece reading them (skip connections cross several).
 */
import { splitGraph } from '../../formats/onnx/graph-edit.ts';
import { consumers, nodeLabel, producers, topologicalOrder } from '../../formats/onnx/graph.ts';
import type { GraphProto, NodeProto } from '../../formats/onnx/types.ts';
import { FormatError } from '../../util/errors.ts';

export type PiecePlan = 'default' | 'blocks';
export const PIECE_PLANS: readonly PiecePlan[] = ['default', 'blocks'];

const BLOCK = /^\/(down_blocks\.(\d+)|mid_block|up_blocks\.(\d+))\//;

function blockOf(node: NodeProto): string | undefined {
  return node.name ? BLOCK.exec(node.name)?.[1] : undefined;
}

function blockOrder(block: string): [number, number] {
  if (block === 'mid_block') return [1, 0];
  const [kind, index] = block.split('.');
  return [kind === 'down_blocks' ? 0 : 2, Number(index)];
}

/** Piece names in run order, and which piece each block goes to. */
export function planPieces(graph: GraphProto, plan: PiecePlan): { names: string[]; pieceOfBlock: Map<string, number> } {
  const blocks = [...new Set(graph.node.map(blockOf).filter((b): b is string => b !== undefined))].sort((a, b) => {
    const [x, y] = [blockOrder(a), blockOrder(b)];
    return x[0] - y[0] || x[1] - y[1];
  });
  const pieceOfBlock = new Map<string, number>();
  if (plan === 'blocks') {
    blocks.forEach((b, i) => pieceOfBlock.set(b, i));
    return { names: blocks, pieceOfBlock };
  }
  const names = ['down', 'mid', 'up'];
  for (const b of blocks) pieceOfBlock.set(b, blockOrder(b)[0]);
  for (const [i, name] of names.entries())
    if (![...pieceOfBlock.values()].includes(i)) throw new FormatError('unet/model.onnx', 'graph.node', `no nodes for the "${name}" piece (named /${name === 'mid' ? 'mid_block' : `${name}_blocks.N`}/...)`);
  return { names, pieceOfBlock };
}

export interface SplitPiece {
  name: string;
  graph: GraphProto;
}

export function splitUnet(graph: GraphProto, plan: PiecePlan, file: string): SplitPiece[] {
  const { names, pieceOfBlock } = planPieces(graph, plan);
  const last = names.length - 1;
  const order = topologicalOrder(graph, file);
  const readers = consumers(graph);
  const outputs = new Set(graph.output.map((o) => o.name));
  const owner = new Map<NodeProto, number>();
  for (const node of order) {
    const block = blockOf(node);
    if (block !== undefined) owner.set(node, pieceOfBlock.get(block)!);
  }
  // Unnamed-block nodes: the first piece that reads them (reverse topological order sees readers first).
  for (const node of [...order].reverse()) {
    if (owner.has(node)) continue;
    let first = node.output.some((o) => outputs.has(o)) ? last : Infinity;
    for (const o of node.output) for (const reader of readers.get(o) ?? []) first = Math.min(first, owner.get(reader) ?? Infinity);
    owner.set(node, Number.isFinite(first) ? first : last);
  }

  // Duplicate constants read by several pieces, so that no piece receives a constant from another.
  const clones: NodeProto[] = [];
  const rewired = new Map<NodeProto, NodeProto>();
  for (const node of order) {
    if (node.opType !== 'Constant' || node.input.length > 0) continue;
    const tensor = node.output[0];
    const readerPieces = new Set((readers.get(tensor) ?? []).map((r) => owner.get(r)!));
    for (const p of readerPieces) {
      if (p === owner.get(node)) continue;
      const copyName = `${tensor}__${names[p]}`;
      const copy: NodeProto = { ...node, name: `${node.name ?? tensor}__${names[p]}`, output: [copyName] };
      clones.push(copy);
      owner.set(copy, p);
      for (const reader of readers.get(tensor) ?? []) {
        if (owner.get(reader) !== p) continue;
        const current = rewired.get(reader) ?? reader;
        const edited = { ...current, input: current.input.map((i) => (i === tensor ? copyName : i)) };
        rewired.set(reader, edited);
      }
    }
  }
  const node: NodeProto[] = [...clones];
  for (const n of graph.node) {
    const edited = rewired.get(n);
    if (edited) owner.set(edited, owner.get(n)!);
    node.push(edited ?? n);
  }
  const working: GraphProto = { ...graph, node };

  const producer = producers(working);
  for (const n of working.node)
    for (const input of n.input) {
      const from = producer.get(input);
      if (from !== undefined && owner.get(from)! > owner.get(n)!)
        throw new FormatError(file, input, `${nodeLabel(n)} (piece ${names[owner.get(n)!]}) reads a tensor computed later, in piece ${names[owner.get(from)!]}`);
    }

  const workingReaders = consumers(working);
  const cuts: string[][] = names.slice(0, -1).map(() => []);
  for (const n of working.node) {
    const p = owner.get(n)!;
    if (p === last) continue;
    for (const o of n.output) {
      if (o === '') continue;
      const later = (workingReaders.get(o) ?? []).some((r) => owner.get(r)! > p) || outputs.has(o);
      if (later) cuts[p].push(o);
    }
  }
  cuts.forEach((cut, p) => {
    if (cut.length === 0) throw new FormatError(file, 'graph.node', `piece "${names[p]}" passes nothing to the pieces after it`);
  });

  const pieces = splitGraph(working, cuts, { name: 'unet', file });
  pieces.forEach((piece, p) => {
    for (const n of piece.node)
      if (owner.get(n) !== p)
        throw new FormatError(file, n.name ?? n.opType, `ended up in piece "${names[p]}" but belongs to "${names[owner.get(n)!]}"`);
  });
  return pieces.map((graphOfPiece, p) => ({ name: names[p], graph: { ...graphOfPiece, name: `unet_${names[p]}` } }));
}
