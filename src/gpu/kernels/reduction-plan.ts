import { ShapeError } from '../../util/errors.ts';
import { normalizeAxis, product } from './checks.ts';

/** A tensor viewed as [outer, n, inner] around the reduced axes (n = their product). */
export interface AxisSplit {
  outer: number;
  n: number;
  inner: number;
  /** The reduced axes as non-negative indices, ascending and contiguous. */
  axes: number[];
}

/** Splits `shape` around one axis or a run of adjacent axes. */
export function splitAroundAxes(op: string, shape: readonly number[], axis: number | readonly number[]): AxisSplit {
  const requested = typeof axis === 'number' ? [axis] : [...axis];
  if (requested.length === 0) throw new ShapeError(`${op}: no axis given for shape [${shape}]`);
  const axes = requested.map((a) => normalizeAxis(op, a, shape)).sort((a, b) => a - b);
  for (let i = 1; i < axes.length; i++) {
    if (axes[i] !== axes[i - 1] + 1) throw new ShapeError(`${op}: axes [${requested}] of [${shape}] must be adjacent`);
  }
  const first = axes[0];
  const last = axes[axes.length - 1];
  const n = product(shape.slice(first, last + 1));
  if (n === 0) throw new ShapeError(`${op}: axes [${requested}] of [${shape}] are empty`);
  return { outer: product(shape.slice(0, first)), n, inner: product(shape.slice(last + 1)), axes };
}

/**
 * How a kernel that reduces along [outer, n, inner] spreads the work:
 * - 'thread': one invocation per (outer, inner) output walks the n elements itself. Right when
 *   rows are short, or when inner is wide enough that neighbouring invocations read
 *   neighbouring addresses and there are enough outputs to fill the GPU.
 * - 'workgroup': one workgroup per output, its invocations striding over n and combining
 *   in workgroup memory. Right for long rows (softmax over 4096 keys, sums over a channel).
 */
export type ReductionStrategy = 'thread' | 'workgroup';

export function reductionStrategy(split: Pick<AxisSplit, 'outer' | 'n' | 'inner'>): ReductionStrategy {
  if (split.n <= 32) return 'thread';
  if (split.inner >= 32 && split.outer * split.inner >= 2048) return 'thread';
  return 'workgroup';
}

/**
 * Invocations per workgroup of each strategy (the `WG` define, a multiple of 64). 64 for
 * long rows too: a software adapter pays per barrier per lane (256 lanes cost 5x 64 lanes),
 * and 64 lanes already stream a row at full width on GPUs.
 */
export const REDUCTION_WORKGROUP_SIZE: Record<ReductionStrategy, number> = { thread: 64, workgroup: 64 };
