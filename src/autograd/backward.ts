/**
 * Reverse sweep over a recorded tape. Only nodes on a path from a requested input to a seeded
 * output run their VJP; gradients accumulate on the GPU; a gradient is released once its
 * node has consumed it, and (optionally) each activation buffer once no later VJP reads it.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { ShapeError } from '../util/errors.ts';
import { binary } from '../gpu/kernels/binary.ts';
import type { TapeEntry } from './op-types.ts';
import { opOf } from './ops/index.ts';
import type { GraphNode, VjpContext } from './ops/op.ts';

/** The part of a tape entry the sweep reads (op-types.ts TapeEntry fits). */
export interface TapeRecord {
  node: GraphNode;
  inputs: readonly (GpuTensor | null)[];
  outputs: readonly GpuTensor[];
  saved?: readonly GpuTensor[];
}

export interface BackwardOptions {
  /** dL/d(tensor) for the graph outputs the loss depends on. Never released by the sweep. */
  seeds: ReadonlyMap<string, GpuTensor>;
  /** Tensor names (piece inputs such as k_i / v_i, parameters) whose gradients are wanted. */
  wrt: Iterable<string>;
  /**
   * Release activation buffers (tape entry outputs and saved tensors, views included) as soon
   * as no remaining VJP reads them. The tape is unusable afterwards. Default false.
   */
  releaseActivations?: boolean;
  /** Tensors never released even when `releaseActivations` (e.g. outputs still to be read). */
  keep?: ReadonlySet<GpuTensor>;
}

export interface BackwardStats {
  /** Entries whose VJP ran. */
  ranNodes: number;
  skippedNodes: number;
  /** Peak bytes the pool had in use during the sweep. */
  peakInUseBytes: number;
}

export interface BackwardResult {
  /** One gradient per requested name that the seeds reach (absent: it does not affect the loss). */
  grads: Map<string, GpuTensor>;
  stats: BackwardStats;
}

export function backward(ctx: GpuContext, tape: readonly (TapeRecord | TapeEntry)[], options: BackwardOptions): BackwardResult {
  const wrt = new Set(options.wrt);
  // Forward reachability: which tensor names depend on a requested input.
  const dependsOnWrt = new Set(wrt);
  for (const entry of tape) {
    if (entry.node.inputs.some((name) => name && dependsOnWrt.has(name))) for (const name of entry.node.outputs) dependsOnWrt.add(name);
  }
  // Backward reachability: which names the seeds' gradients reach.
  const reachesLoss = new Set(options.seeds.keys());
  const active: boolean[] = new Array<boolean>(tape.length).fill(false);
  for (let i = tape.length - 1; i >= 0; i--) {
    const { node } = tape[i];
    if (!node.outputs.some((name) => reachesLoss.has(name))) continue;
    if (!node.inputs.some((name) => name && dependsOnWrt.has(name))) continue;
    active[i] = true;
    for (const name of node.inputs) if (name && dependsOnWrt.has(name)) reachesLoss.add(name);
  }

  // Activation lifetimes by buffer (views share their owner's buffer).
  const releaseAt = new Map<number, GpuTensor[]>();
  if (options.releaseActivations) {
    const keepBuffers = new Set<GPUBuffer>([...(options.keep ?? [])].map((t) => t.buffer));
    // What the tape reads but never produced (graph inputs, weights, parameters) is not ours to
    // free, views of it included: releaseStorage() would free the owner.
    const producedNames = new Set(tape.flatMap((entry) => entry.node.outputs));
    for (const entry of tape) {
      entry.node.inputs.forEach((name, i) => {
        const given = entry.inputs[i];
        if (name && !producedNames.has(name) && given && !given.isReleased) keepBuffers.add(given.buffer);
      });
    }
    const owned = new Map<GPUBuffer, GpuTensor[]>();
    for (const entry of tape) {
      for (const t of [...entry.outputs, ...(entry.saved ?? [])]) {
        if (t.isReleased || keepBuffers.has(t.buffer)) continue;
        owned.set(t.buffer, [...(owned.get(t.buffer) ?? []), t]);
      }
    }
    const lastUse = new Map<GPUBuffer, number>();
    tape.forEach((entry, i) => {
      if (!active[i]) return;
      for (const t of [...entry.inputs, ...entry.outputs, ...(entry.saved ?? [])]) {
        if (t && !t.isReleased && owned.has(t.buffer) && !lastUse.has(t.buffer)) lastUse.set(t.buffer, i);
      }
    });
    for (const [buffer, tensors] of owned) {
      const at = lastUse.get(buffer) ?? tape.length; // never read backward: free right away
      releaseAt.set(at, [...(releaseAt.get(at) ?? []), ...tensors]);
    }
  }
  const releaseDue = (index: number): void => {
    for (const t of releaseAt.get(index) ?? []) t.releaseStorage();
  };
  releaseDue(tape.length);

  const seedTensors = new Set(options.seeds.values());
  const grads = new Map<string, GpuTensor>(options.seeds);
  const accumulate = (name: string, grad: GpuTensor): void => {
    const previous = grads.get(name);
    if (!previous) {
      grads.set(name, grad);
      return;
    }
    if (previous.size !== grad.size) throw new ShapeError(`backward: gradients for ${name} disagree in shape: [${previous.shape}] and [${grad.shape}]`);
    const sum = binary(ctx, 'add', previous, grad.reshape(previous.shape));
    if (!seedTensors.has(previous)) previous.release();
    grad.release();
    grads.set(name, sum);
  };

  const peakWatch = ctx.pool.watchPeak();
  let ranNodes = 0;
  try {
    for (let i = tape.length - 1; i >= 0; i--) {
      const entry = tape[i];
      if (!active[i]) {
        releaseDue(i);
        continue;
      }
      const { node } = entry;
      const rule = opOf(node.opType);
      if (!rule?.backward) throw new ShapeError(`backward: no VJP rule for ${node.opType} (node ${node.name}); gradients from the loss pass through it to ${[...wrt].join(', ')}`);
      const outputGrads = node.outputs.map((name, k) => {
        if (k > 0 && rule.differentiableOutputs !== 'all') return null;
        return grads.get(name) ?? null;
      });
      const v: VjpContext = {
        ctx,
        node,
        inputs: entry.inputs,
        outputs: entry.outputs,
        saved: entry.saved,
        needs: node.inputs.map((name) => Boolean(name) && dependsOnWrt.has(name) && reachesLoss.has(name)),
        constant: () => undefined,
      };
      // A rule with output 0 unreached (e.g. only a Split's second part used) still runs.
      if (rule.differentiableOutputs !== 'all' && !outputGrads[0]) {
        releaseDue(i);
        continue;
      }
      const inputGrads = rule.backward(v, outputGrads);
      ranNodes++;
      // Output gradients are consumed (unless they are caller seeds or requested results).
      node.outputs.forEach((name) => {
        const g = grads.get(name);
        if (g && !seedTensors.has(g) && !wrt.has(name)) {
          g.release();
          grads.delete(name);
        }
      });
      node.inputs.forEach((name, k) => {
        const g = inputGrads[k];
        if (!g) return;
        if (!v.needs[k]) {
          g.release();
          return;
        }
        accumulate(name, g);
      });
      releaseDue(i);
    }
  } finally {
    peakWatch.stop();
  }
  const result = new Map<string, GpuTensor>();
  for (const name of wrt) {
    const g = grads.get(name);
    if (g) result.set(name, g);
  }
  // Anything else left (gradients of names nobody asked for, e.g. unreached branches) goes back.
  for (const [name, g] of grads) if (!wrt.has(name) && !seedTensors.has(g)) g.release();
  const peak = peakWatch.peakBytes;
  return { grads: result, stats: { ranNodes, skippedNodes: tape.length - ranNodes, peakInUseBytes: peak } };
}
