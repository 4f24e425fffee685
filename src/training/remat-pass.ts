/**
 * One piece's forward for training, and its backward, under a segment plan: the forward keeps
 * only the tensors that cross the plan's cuts; the backward recomputes each segment from them
 * (recorded), sweeps it, and frees its tape before the next. With one segment it is the plain
 * recorded forward and sweep. Gradients are the same as without recomputation: the recomputed
 * segment runs the same kernels on the same inputs.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { backward } from '../autograd/backward.ts';
import { GradientLedger } from '../autograd/gradient-ledger.ts';
import { crossingNames, type GraphLifetimes, type SegmentPlan } from './remat-plan.ts';
import type { PieceGraph } from '../autograd/executor.ts';
import type { TapeEntry } from '../autograd/op-types.ts';

export interface PiecePassOptions {
  /**
   * Record the last segment during the forward instead of recomputing it in backward (saves a
   * segment's forward; holds its tape until backward). Default true.
   */
  recordTail?: boolean;
}

export interface PiecePass {
  /**
   * The piece's outputs; the caller's to free (after backward if it needs them there) with
   * releaseStorage(): an output can be a view of a tensor the piece made (a final Reshape or
   * Cast). Outputs that view a given input share the caller's buffer: leave those.
   */
  readonly outputs: Readonly<Record<string, GpuTensor>>;
  /** Nodes run again during backward (0 with one segment). */
  readonly recomputedNodes: number;
  /**
   * dL/d(name) for each `wrt` name (piece inputs or parameters) that the seeds reach. Frees every
   * tensor the pass held except `outputs`; seeds stay the caller's. Callable once.
   */
  backward(seeds: ReadonlyMap<string, GpuTensor>, wrt: Iterable<string>): Map<string, GpuTensor>;
  /** Frees what the pass holds without a backward. */
  dispose(): void;
}

export function forwardForTraining(ctx: GpuContext, graph: PieceGraph, lifetimes: GraphLifetimes, plan: SegmentPlan, inputs: Record<string, GpuTensor>, options: PiecePassOptions = {}): PiecePass {
  const recordTail = options.recordTail ?? true;
  const values = graph.bind(inputs);
  const given = new Map(values);
  const { boundaries } = plan;
  const segments = boundaries.length - 1;
  const tailStart = boundaries[segments - 1];
  const outputNames = graph.outputs.map((o) => o.name);
  const storedNames = new Set(boundaries.slice(1, -1).flatMap((cut) => crossingNames(lifetimes, cut)));
  const keep = new Set([...storedNames, ...outputNames]);
  let tailTape: TapeEntry[] | undefined;
  if (recordTail) {
    graph.run(values, 0, tailStart, { keep });
    tailTape = graph.run(values, tailStart, graph.nodes.length, { record: true });
  } else graph.run(values, 0, graph.nodes.length, { keep });
  const outputs: Record<string, GpuTensor> = {};
  for (const name of outputNames) outputs[name] = values.get(name)!;
  const stored = new Map([...storedNames].map((name) => [name, values.get(name)!]));

  // Never ours to free: inputs, weights, parameters, outputs, and views of them.
  const foreign = new Set<GPUBuffer>([...given.values(), ...Object.values(outputs)].map((t) => t.buffer));
  const segmentOf = (node: number): number => {
    let s = 0;
    while (boundaries[s + 1] <= node) s++;
    return s;
  };
  // A stored cut tensor's buffer is freed once every segment reading a name on it has been swept (the
  // lowest such segment); buffers are shared by views.
  const freeAfter = new Map<GPUBuffer, { segment: number; tensor: GpuTensor; names: string[] }>();
  for (const [name, tensor] of stored) {
    if (foreign.has(tensor.buffer)) continue;
    const lowestReader = segmentOf(lifetimes.spans.get(name)![0]) + 1;
    const entry = freeAfter.get(tensor.buffer);
    if (!entry) freeAfter.set(tensor.buffer, { segment: lowestReader, tensor, names: [name] });
    else {
      entry.segment = Math.min(entry.segment, lowestReader);
      entry.names.push(name);
    }
  }
  const freeStored = (afterSegment: number): void => {
    for (const [buffer, { segment, tensor, names }] of freeAfter) {
      if (segment < afterSegment) continue;
      tensor.releaseStorage();
      for (const name of names) stored.delete(name);
      freeAfter.delete(buffer);
    }
  };
  let used = false;
  const dispose = (): void => {
    used = true;
    if (tailTape) graph.releaseTape(tailTape, [...Object.values(outputs), ...stored.values()]);
    tailTape = undefined;
    freeStored(-1);
  };

  return {
    outputs,
    get recomputedNodes() {
      return recordTail ? tailStart : graph.nodes.length;
    },
    dispose,
    backward(seeds, wrtNames) {
      if (used) throw new Error(`${graph.file}: this training pass was already swept or disposed`);
      used = true;
      const wrt = new Set(wrtNames);
      // Forward reachability over the whole piece: which names depend on what is asked for.
      const depends = new Set(wrt);
      for (const node of graph.nodes) if (node.inputs.some((name) => name && depends.has(name))) for (const name of node.outputs) if (name) depends.add(name);

      const ledger = new GradientLedger(ctx, seeds);
      for (let s = segments - 1; s >= 0; s--) {
        const [from, to] = [boundaries[s], boundaries[s + 1]];
        const made = new Set<string>();
        const read = new Set<string>();
        for (let i = from; i < to; i++) {
          for (const name of graph.nodes[i].outputs) if (name) made.add(name);
          for (const name of graph.nodes[i].inputs) if (name) read.add(name);
        }
        const segmentSeeds = ledger.seedsFor(made);
        const segmentWrt = [...read].filter((name) => !made.has(name) && depends.has(name));
        let tape: TapeEntry[] | undefined;
        if (s === segments - 1 && tailTape) {
          tape = tailTape;
          tailTape = undefined;
        } else if (segmentSeeds.size > 0 && segmentWrt.length > 0) {
          tape = graph.run(new Map([...given, ...stored]), from, to, { record: true });
        }
        if (tape) {
          if (segmentSeeds.size > 0 && segmentWrt.length > 0) {
            const { grads: segmentGrads } = backward(ctx, tape, { seeds: segmentSeeds, wrt: segmentWrt, releaseActivations: true, keep: new Set(Object.values(outputs)) });
            for (const [name, g] of segmentGrads) ledger.add(name, g);
          } else graph.releaseTape(tape, [...Object.values(outputs), ...stored.values()]);
        }
        ledger.consume(segmentSeeds.keys());
        freeStored(s);
        // Submitting returns the segment's uniform buffers to the pool (one per dispatch).
        ctx.flush();
      }
      return ledger.take(wrt);
    },
  };
}
