/** Readers of a node's attributes and shapes at load, for the ops' `prepare`. */
import { ShapeError } from '../../util/errors.ts';
import type { PrepareArgs } from './op.ts';

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
