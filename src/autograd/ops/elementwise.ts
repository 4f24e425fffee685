/** Elementwise ops: binary with broadcasting, unary, Where, and the dtype-only Cast/Identity. */
import { binary, type BinaryOp } from '../../gpu/kernels/binary.ts';
import { broadcastShapes } from '../../gpu/kernels/broadcast.ts';
import { unary, type UnaryOp } from '../../gpu/kernels/unary.ts';
import { where } from '../../gpu/kernels/where.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import type { OpSpec } from './spec.ts';
import { requireShape } from './spec.ts';

function binarySpec(op: BinaryOp): OpSpec {
  return {
    prepare: (args) => ({ attributes: args.attributes, outputShapes: [broadcastShapes(args.label, requireShape(args, 0), requireShape(args, 1))] }),
    forward: (ctx, [a, b]) => ({ outputs: [binary(ctx, op, a!, b!)] }),
  };
}

function unarySpec(op: UnaryOp): OpSpec {
  return {
    prepare: (args) => ({ attributes: args.attributes, outputShapes: [requireShape(args, 0)] }),
    forward: (ctx, [x]) => ({ outputs: [unary(ctx, op, x!)] }),
  };
}

/**
 * Same values, same storage: runtime integers live as f32 (exact below 2^24; timesteps are
 * far below), and fp16 packs are computed in f32, so every Cast the executor meets between
 * runtime tensors is a view. Casts to integer or bool of runtime floats are refused at load.
 */
const view: OpSpec = {
  prepare: (args) => ({ attributes: args.attributes, outputShapes: [requireShape(args, 0)] }),
  forward: (_ctx, [x]) => ({ outputs: [(x as GpuTensor).reshape(x!.shape)] }),
};

export const ELEMENTWISE_OPS: Record<string, OpSpec> = {
  Add: binarySpec('add'),
  Sub: binarySpec('sub'),
  Mul: binarySpec('mul'),
  Div: binarySpec('div'),
  Pow: binarySpec('pow'),
  Max: binarySpec('max'),
  Min: binarySpec('min'),
  Sqrt: unarySpec('sqrt'),
  Erf: unarySpec('erf'),
  Sigmoid: unarySpec('sigmoid'),
  Sin: unarySpec('sin'),
  Cos: unarySpec('cos'),
  Exp: unarySpec('exp'),
  Log: unarySpec('log'),
  Tanh: unarySpec('tanh'),
  Relu: unarySpec('relu'),
  Neg: unarySpec('neg'),
  Abs: unarySpec('abs'),
  Reciprocal: unarySpec('reciprocal'),
  Gelu: {
    prepare: (args) => {
      if ((args.attributes.approximate ?? 'none') !== 'none') throw new Error(`${args.label}: only approximate="none" is supported`);
      return { attributes: args.attributes, outputShapes: [requireShape(args, 0)] };
    },
    forward: (ctx, [x]) => ({ outputs: [unary(ctx, 'gelu', x!)] }),
  },
  Where: {
    prepare: (args) => ({ attributes: args.attributes, outputShapes: [broadcastShapes(args.label, requireShape(args, 0), requireShape(args, 1), requireShape(args, 2))] }),
    forward: (ctx, [cond, a, b]) => ({ outputs: [where(ctx, cond!, a!, b!)] }),
  },
  Cast: view,
  Identity: view,
};
