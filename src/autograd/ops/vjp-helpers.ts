/** Helpers of the ops' `backward`: tape access, attributes of a recorded node, broadcasting. */
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { sumToShape } from '../../gpu/kernels/sum-to-shape.ts';
import type { GraphNode, VjpContext } from './op.ts';

/** A fresh copy (rules never hand out tensors they were given). */
export function copyOf(ctx: GpuContext, x: GpuTensor, shape: readonly number[] = x.shape): GpuTensor {
  const out = ctx.empty(shape, x.dtype);
  if (out.size !== x.size) throw new ShapeError(`copy: [${x.shape}] into [${shape}]`);
  ctx.copy(x, out);
  return out;
}

/** Gradient of a broadcast operand: `grad` (owned, consumed) summed down to `shape`. */
export function unbroadcast(ctx: GpuContext, grad: GpuTensor, shape: readonly number[]): GpuTensor {
  if (grad.shape.length === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const summed = sumToShape(ctx, grad, shape);
  grad.release();
  return summed;
}

export function input(v: VjpContext, index: number): GpuTensor {
  const tensor = v.inputs[index];
  if (!tensor)
    throw new ShapeError(`${v.node.opType} ${v.node.name}: backward needs input ${index} (${v.node.inputs[index] ?? 'absent'}), which the tape does not hold`);
  return tensor;
}

export function output(v: VjpContext, index: number): GpuTensor {
  const tensor = v.outputs[index];
  if (!tensor) throw new ShapeError(`${v.node.opType} ${v.node.name}: backward needs output ${index}, which the tape does not hold`);
  return tensor;
}

export function gradOf(v: VjpContext, grads: readonly (GpuTensor | null)[], index = 0): GpuTensor {
  const g = grads[index];
  if (!g) throw new ShapeError(`${v.node.opType} ${v.node.name}: no gradient for output ${index}`);
  return g;
}

function attribute(node: GraphNode, name: string): unknown {
  return Object.hasOwn(node.attributes, name) ? node.attributes[name] : undefined;
}

export function intAttributeOf(node: GraphNode, name: string, fallback: number): number {
  const value = attribute(node, name);
  if (value === undefined) return fallback;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new ShapeError(`${node.opType} ${node.name}: attribute ${name} must be an integer, got ${String(value)}`);
  return value;
}

export function floatAttributeOf(node: GraphNode, name: string, fallback: number): number {
  const value = attribute(node, name);
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new ShapeError(`${node.opType} ${node.name}: attribute ${name} must be a number, got ${String(value)}`);
  return value;
}

export function intsAttributeOf(node: GraphNode, name: string): number[] | undefined {
  const value = attribute(node, name);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw new ShapeError(`${node.opType} ${node.name}: attribute ${name} must be a list of integers`);
  return Array.from(value as ArrayLike<number | bigint>, (x) => Number(x));
}

export function stringAttributeOf(node: GraphNode, name: string, fallback: string): string {
  const value = attribute(node, name);
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new ShapeError(`${node.opType} ${node.name}: attribute ${name} must be a string`);
  return value;
}

/** Attribute list, else the constant input (ONNX moved several attributes to inputs). */
export function intsFromAttributeOrInput(v: VjpContext, name: string, inputIndex: number): number[] | undefined {
  const fromAttribute = intsAttributeOf(v.node, name);
  if (fromAttribute) return fromAttribute;
  if (!v.node.inputs[inputIndex]) return undefined;
  const constant = v.constant(inputIndex);
  if (!constant) throw new ShapeError(`${v.node.opType} ${v.node.name}: input ${inputIndex} (${name}) must be a constant for backward`);
  return constant.map(Number);
}

export function normalizeAxisFor(v: VjpContext, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ShapeError(`${v.node.opType} ${v.node.name}: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}
