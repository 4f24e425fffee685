import type { ForwardFn, OpAttribute } from '../op-types.ts';
import { ShapeError } from '../../util/errors.ts';

/** What an op sees at load: ONNX attributes, static input shapes and folded operand values. */
export interface PrepareArgs {
  /** For messages: `Conv "/conv_in/Conv"`. */
  label: string;
  attributes: Record<string, OpAttribute>;
  /** Aligned with the node's inputs; null for an absent optional input. */
  inputShapes: (number[] | null)[];
  /** Values of the inputs listed in `staticInputs` (null when absent). */
  operands: (Float64Array | null)[];
  /** How many outputs the node declares (Split without sizes splits evenly into them). */
  outputCount: number;
  opset: number;
}

export interface Prepared {
  /** Attributes the forward (and the VJP rule) reads: ONNX ones plus resolved operands. */
  attributes: Record<string, OpAttribute>;
  outputShapes: number[][];
}

/**
 * A GPU op of the executor: `prepare` runs once at load (checks everything it can, resolves
 * folded operands into attributes, infers output shapes); `forward` runs every step.
 */
export interface OpSpec {
  /** Input positions that must be constant at load (shape operands); they become attributes. */
  staticInputs?: readonly number[];
  prepare: (args: PrepareArgs) => Prepared;
  forward: ForwardFn;
}

export function intAttribute(args: PrepareArgs, name: string, fallback?: number): number {
  const value = args.attributes[name];
  if (value === undefined) {
    if (fallback === undefined) throw new ShapeError(`${args.label}: attribute ${name} is missing`);
    return fallback;
  }
  if (typeof value !== 'number') throw new ShapeError(`${args.label}: attribute ${name} must be a number`);
  return value;
}

export function intsAttribute(args: PrepareArgs, name: string): number[] | undefined {
  const value = args.attributes[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ShapeError(`${args.label}: attribute ${name} must be a list of numbers`);
  return value;
}

export function stringAttribute(args: PrepareArgs, name: string, fallback: string): string {
  const value = args.attributes[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new ShapeError(`${args.label}: attribute ${name} must be a string`);
  return value;
}

export function requireShape(args: PrepareArgs, index: number): number[] {
  const shape = args.inputShapes[index];
  if (!shape) throw new ShapeError(`${args.label}: input ${index} is required`);
  return shape;
}

export function numbersOf(values: Float64Array | null): number[] | undefined {
  return values ? Array.from(values) : undefined;
}

export function normalizeAxisAt(label: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new ShapeError(`${label}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}
