import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { flatGrid } from './grid.ts';
import wgsl from './unary.wgsl?raw';

const kernel: KernelSource = { name: 'unary', wgsl };

/** Codes of the `OP` define in unary.wgsl. */
const UNARY_OPS = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  abs: 5,
  sigmoid: 6,
  tanh: 7,
  erf: 8,
  sin: 9,
  cos: 10,
  /** x * Φ(x), the exact (erf) form, as torch's default GELU and ONNX Gelu. */
  gelu: 11,
  silu: 12,
  relu: 13,
  reciprocal: 14,
} as const;
const AFFINE = 15;

export type UnaryOp = keyof typeof UNARY_OPS;
export const UNARY_OP_NAMES = Object.keys(UNARY_OPS) as UnaryOp[];

/** out = op(x) elementwise. */
export function unary(ctx: GpuContext, op: UnaryOp, x: GpuTensor, options: { out?: GpuTensor } = {}): GpuTensor {
  if (!Object.hasOwn(UNARY_OPS, op)) throw new RangeError(`unary: unknown op "${op}" (expected one of ${UNARY_OP_NAMES.join(', ')})`);
  return run(ctx, `unary ${op}`, UNARY_OPS[op], x, 1, 0, options.out);
}

/** out = x * scale + bias elementwise, with scalar scale and bias. */
export function affine(ctx: GpuContext, x: GpuTensor, scale: number, bias: number, options: { out?: GpuTensor } = {}): GpuTensor {
  if (!Number.isFinite(scale) || !Number.isFinite(bias)) throw new RangeError(`affine: scale and bias must be finite, got ${scale} and ${bias}`);
  return run(ctx, 'affine', AFFINE, x, scale, bias, options.out);
}

function run(ctx: GpuContext, name: string, code: number, x: GpuTensor, alpha: number, beta: number, into?: GpuTensor): GpuTensor {
  const dtype = floatDtype(name, x);
  const out = outputTensor(ctx, name, x.shape, dtype, [x], into);
  ctx.dispatch({
    kernel,
    dtype,
    defines: { OP: code },
    tensors: [x, out],
    uniforms: new Uniforms().u32(x.size).f32(alpha).f32(beta).finish(),
    workgroups: flatGrid(Math.ceil(x.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}
