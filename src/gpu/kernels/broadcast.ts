import { ShapeError } from '../../util/errors.ts';
import { Uniforms } from '../uniforms.ts';

/** Kernels address at most this many (collapsed) output axes; see broadcast.wgsl. */
export const MAX_BROADCAST_RANK = 6;

/** Numpy broadcasting of any number of shapes: axes align on the right, sizes equal or 1. */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((shape) => shape.length));
  const out: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let size = 1;
    for (const shape of shapes) {
      const dim = shape[shape.length - rank + axis] ?? 1;
      if (dim === 1 || dim === size) continue;
      if (size !== 1) throw new ShapeError(`${op}: shapes ${shapes.map((s) => `[${s}]`).join(', ')} do not broadcast (axis ${axis - rank}: ${size} vs ${dim})`);
      size = dim;
    }
    out.push(size);
  }
  return out;
}

/**
 * Output axes and per-operand element strides, innermost first, after dropping size-1 axes
 * and merging neighbours that every operand walks contiguously. Same-shape operands collapse
 * to rank 1, so the rank limit only bites on genuinely interleaved broadcasts.
 */
export interface BroadcastLayout {
  shape: number[];
  strides: number[][];
}

export function broadcastLayout(op: string, outShape: readonly number[], operandShapes: (readonly number[])[]): BroadcastLayout {
  const rank = outShape.length;
  const operandStrides = operandShapes.map((shape) => {
    const strides = new Array<number>(rank).fill(0);
    let stride = 1;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const dim = shape[shape.length - rank + axis] ?? 1;
      if (dim !== 1 && dim !== outShape[axis]) throw new ShapeError(`${op}: operand [${shape}] does not broadcast to [${outShape}]`);
      strides[axis] = dim === 1 ? 0 : stride;
      stride *= dim;
    }
    return strides;
  });
  const shape: number[] = [];
  const strides: number[][] = operandShapes.map(() => []);
  for (let axis = rank - 1; axis >= 0; axis--) {
    const size = outShape[axis];
    if (size === 1) continue;
    const last = shape.length - 1;
    const mergeable = last >= 0 && operandStrides.every((s, k) => s[axis] === strides[k][last] * shape[last]);
    if (mergeable) {
      shape[last] *= size;
    } else {
      shape.push(size);
      operandStrides.forEach((s, k) => strides[k].push(s[axis]));
    }
  }
  if (shape.length > MAX_BROADCAST_RANK) {
    throw new ShapeError(`${op}: broadcasting ${operandShapes.map((s) => `[${s}]`).join(', ')} to [${outShape}] needs ${shape.length} axes after merging, over the kernel's ${MAX_BROADCAST_RANK}`);
  }
  return { shape, strides };
}

/** The `BroadcastParams` block of broadcast.wgsl (three operand slots; unused ones stay 0). */
export function broadcastUniforms(layout: BroadcastLayout, count: number): ArrayBuffer {
  if (layout.strides.length > 3) throw new RangeError(`broadcastUniforms: ${layout.strides.length} operands, the kernel has 3 slots`);
  const uniforms = new Uniforms();
  // Two vec4u per array; axes past the rank are never read but are kept neutral.
  const padded = (values: readonly number[], fill: number): number[] => Array.from({ length: 8 }, (_, i) => values[i] ?? fill);
  for (const value of padded(layout.shape, 1)) uniforms.u32(value);
  for (let k = 0; k < 3; k++) for (const value of padded(layout.strides[k] ?? [], 0)) uniforms.u32(value);
  return uniforms.u32(count).u32(layout.shape.length).finish();
}
