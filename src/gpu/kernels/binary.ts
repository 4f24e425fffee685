import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { broadcastLayout, broadcastShapes, broadcastUniforms } from './broadcast.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import broadcastWgsl from './broadcast.wgsl?raw';
import binaryWgsl from './binary.wgsl?raw';

const kernel: KernelSource = { name: 'binary', wgsl: broadcastWgsl + binaryWgsl };

/** Codes of the `OP` define in binary.wgsl. */
const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6 } as const;
export type BinaryOp = keyof typeof BINARY_OPS;
export const BINARY_OP_NAMES = Object.keys(BINARY_OPS) as BinaryOp[];

/**
 * out = a (op) b elementwise with numpy broadcasting (as ONNX Add/Sub/Mul/Div/Pow/Max/Min).
 * `pow` of a negative base is real for integral exponents, NaN otherwise.
 */
export function binary(ctx: GpuContext, op: BinaryOp, a: GpuTensor, b: GpuTensor, options: { out?: GpuTensor } = {}): GpuTensor {
  const name = `binary ${op}`;
  if (!Object.hasOwn(BINARY_OPS, op)) throw new RangeError(`binary: unknown op "${op}" (expected one of ${BINARY_OP_NAMES.join(', ')})`);
  const dtype = floatDtype(name, a, b);
  const shape = broadcastShapes(name, a.shape, b.shape);
  const layout = broadcastLayout(name, shape, [a.shape, b.shape]);
  const out = outputTensor(ctx, name, shape, dtype, [a, b], options.out);
  ctx.dispatch({
    kernel,
    dtype,
    defines: { OP: BINARY_OPS[op] },
    tensors: [a, b, out],
    uniforms: broadcastUniforms(layout, out.size),
    workgroups: flatGrid(Math.ceil(out.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
