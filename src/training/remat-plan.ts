/**
 * Where to cut a piece graph into recomputed segments so that one training step stays under a
 * memory budget. Estimated from the static shapes at load, before any GPU work: a recorded
 * segment holds every tensor its nodes make, the stored cut tensors hold what crosses a cut,
 * gradients of a segment's two cuts and of the piece's inputs are alive while it is swept, and
 * one node's VJP needs its gradients and temporaries (a Conv's im2col columns the most).
 */
import type { OpNode } from '../autograd/op-types.ts';

/** Ops whose output shares its input's buffer in the executor (ops/layout.ts, ops/elementwise.ts). */
const VIEW_OPS: ReadonlySet<string> = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Cast']);
const FLOAT_BYTES = 4;

export interface SegmentPlan {
  /** Segment starts and the end: [0, ..., nodes.length]; one segment means no recomputation. */
  readonly boundaries: readonly number[];
  /** Bytes the recorded tape of each segment holds (estimate). */
  readonly segmentBytes: readonly number[];
  /** Bytes of the tensors stored at the cuts (each once). */
  readonly storedBytes: number;
  /** Estimated activation peak of a step with this plan: the stored cut tensors, the largest segment, two cuts' and the inputs' gradients, and a VJP's working set. */
  readonly estimatedPeakBytes: number;
  /** Whether the estimate is within the budget (false: the finest plan tried, the budget cannot be met). */
  readonly fitsBudget: boolean;
}

/** Activation bytes per node and, per tensor name, where it is made and last read. */
export interface GraphLifetimes {
  readonly nodeBytes: readonly number[];
  /**
   * Bytes one node's VJP holds at once: its output's gradient, its inputs' gradients and the
   * rule's temporaries (for a Conv, the im2col columns: kernel taps x the output positions).
   */
  readonly sweepBytes: readonly number[];
  /** Gradients of the graph inputs, accumulated over the whole sweep. */
  readonly inputGradientBytes: number;
  /** Name -> [producing node, last reading node (nodes.length for graph outputs)]; graph inputs and weights are absent. */
  readonly spans: ReadonlyMap<string, readonly [number, number]>;
  readonly sizes: ReadonlyMap<string, number>;
}

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function vjpWorkingSet(node: OpNode): number {
  const outBytes = Math.max(0, ...node.outputShapes.map((shape) => elements(shape) * FLOAT_BYTES));
  const inBytes = Math.max(0, ...node.inputShapes.map((shape) => elements(shape) * FLOAT_BYTES));
  const [x, w] = node.inputShapes;
  if (node.opType === 'Conv' && x?.length === 4 && w?.length === 4) {
    const [, , oh, ow] = node.outputShapes[0];
    return w[1] * w[2] * w[3] * oh * ow * x[0] * FLOAT_BYTES + inBytes + outBytes;
  }
  return 3 * Math.max(outBytes, inBytes);
}

export function graphLifetimes(nodes: readonly OpNode[], outputNames: Iterable<string>, inputs: readonly { shape: readonly number[] }[] = []): GraphLifetimes {
  const nodeBytes: number[] = [];
  const spans = new Map<string, [number, number]>();
  const sizes = new Map<string, number>();
  nodes.forEach((node, i) => {
    for (const name of node.inputs) {
      const span = name ? spans.get(name) : undefined;
      if (span) span[1] = i;
    }
    let bytes = 0;
    node.outputs.forEach((name, k) => {
      if (!name) return;
      const size = node.outputShapes[k].reduce((a, b) => a * b, 1) * FLOAT_BYTES;
      spans.set(name, [i, i]);
      sizes.set(name, size);
      if (!VIEW_OPS.has(node.opType)) bytes += size;
    });
    nodeBytes.push(bytes);
  });
  for (const name of outputNames) {
    const span = spans.get(name);
    if (span) span[1] = nodes.length;
  }
  const inputGradientBytes = inputs.reduce((sum, input) => sum + elements(input.shape) * FLOAT_BYTES, 0);
  return { nodeBytes, sweepBytes: nodes.map(vjpWorkingSet), spans, sizes, inputGradientBytes };
}

/** Names made before `cut` and read at or after it (graph outputs count as read at the end). */
export function crossingNames(lifetimes: GraphLifetimes, cut: number): string[] {
  const names: string[] = [];
  for (const [name, [made, lastRead]] of lifetimes.spans) if (made < cut && lastRead >= cut) names.push(name);
  return names;
}

function evaluate(lifetimes: GraphLifetimes, boundaries: number[], budgetBytes: number): SegmentPlan {
  const segmentBytes: number[] = [];
  for (let s = 0; s + 1 < boundaries.length; s++) {
    let bytes = 0;
    for (let i = boundaries[s]; i < boundaries[s + 1]; i++) bytes += lifetimes.nodeBytes[i];
    segmentBytes.push(bytes);
  }
  const stored = new Set<string>();
  let largestCut = 0;
  for (const cut of boundaries.slice(1, -1)) {
    let cutBytes = 0;
    for (const name of crossingNames(lifetimes, cut)) {
      stored.add(name);
      cutBytes += lifetimes.sizes.get(name)!;
    }
    largestCut = Math.max(largestCut, cutBytes);
  }
  let storedBytes = 0;
  for (const name of stored) storedBytes += lifetimes.sizes.get(name)!;
  // While a segment is swept, the gradients of both its cuts are alive (seeds at its end,
  // accumulating at its start), the inputs' gradients accumulate throughout, and one VJP runs.
  const sweepBytes = Math.max(0, ...lifetimes.sweepBytes);
  const estimatedPeakBytes = storedBytes + Math.max(0, ...segmentBytes) + 2 * largestCut + lifetimes.inputGradientBytes + sweepBytes;
  return { boundaries, segmentBytes, storedBytes, estimatedPeakBytes, fitsBudget: estimatedPeakBytes <= budgetBytes };
}

/** Bytes crossing each cut position 0..n (what a cut there stores), by a difference sweep. */
function crossingBytesByCut(lifetimes: GraphLifetimes): Float64Array {
  const n = lifetimes.nodeBytes.length;
  const delta = new Float64Array(n + 2);
  for (const [name, [made, lastRead]] of lifetimes.spans) {
    if (lastRead <= made) continue;
    const size = lifetimes.sizes.get(name)!;
    delta[made + 1] += size;
    delta[lastRead + 1] -= size;
  }
  const bytes = new Float64Array(n + 1);
  let running = 0;
  for (let c = 0; c <= n; c++) {
    running += delta[c];
    bytes[c] = running;
  }
  return bytes;
}

/**
 * Cut positions such that every segment's tape stays within `segmentLimit` (a node never
 * splits) and the bytes stored at the cuts are least: dynamic programming over cut positions,
 * so cuts land where little crosses (between blocks, not inside an attention whose K/V
 * transposes were made long before).
 */
function cheapestBoundaries(nodeBytes: readonly number[], crossing: Float64Array, segmentLimit: number): number[] {
  const n = nodeBytes.length;
  const cost = new Float64Array(n + 1).fill(Infinity);
  const previous = new Int32Array(n + 1).fill(-1);
  cost[0] = 0;
  for (let end = 1; end <= n; end++) {
    let bytes = 0;
    for (let start = end - 1; start >= 0; start--) {
      bytes += nodeBytes[start];
      if (bytes > segmentLimit && start < end - 1) break;
      // Fewer segments break ties (each one recomputes and stores a little).
      const candidate = cost[start] + (end < n ? crossing[end] : 0) + 1e-9;
      if (candidate < cost[end]) {
        cost[end] = candidate;
        previous[end] = start;
      }
    }
  }
  const boundaries = [n];
  for (let at = n; at > 0; at = previous[at]) boundaries.push(previous[at]);
  return boundaries.reverse();
}

/**
 * The plan with the least recomputation whose estimate fits `budgetBytes`: the whole piece as
 * one recorded segment when it fits, else the coarsest cut (segment limits halving from
 * the piece's total, cuts placed where least crosses) that fits; when none does, the plan with the
 * lowest estimate.
 */
export function planSegments(lifetimes: GraphLifetimes, budgetBytes: number): SegmentPlan {
  const n = lifetimes.nodeBytes.length;
  const whole = evaluate(lifetimes, [0, n], budgetBytes);
  if (whole.fitsBudget || n <= 1) return whole;
  const largestNode = Math.max(...lifetimes.nodeBytes);
  const crossing = crossingBytesByCut(lifetimes);
  let best = whole;
  for (let limit = whole.segmentBytes[0] / 2; ; limit /= 2) {
    const plan = evaluate(lifetimes, cheapestBoundaries(lifetimes.nodeBytes, crossing, Math.max(limit, largestNode)), budgetBytes);
    if (plan.fitsBudget) return plan;
    if (plan.estimatedPeakBytes < best.estimatedPeakBytes) best = plan;
    if (limit <= largestNode) return best;
  }
}
