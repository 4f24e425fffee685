import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype } from './checks.ts';
import commonWgsl from './attention-common.wgsl?raw';
import forwardWgsl from './attention-forward.wgsl?raw';
import queryWgsl from './attention-backward-query.wgsl?raw';
import keyWgsl from './attention-backward-key.wgsl?raw';

const forwardKernel: KernelSource = { name: 'attention-forward', wgsl: commonWgsl + forwardWgsl };
const queryKernel: KernelSource = { name: 'attention-backward-query', wgsl: commonWgsl + queryWgsl };
const keyKernel: KernelSource = { name: 'attention-backward-key', wgsl: commonWgsl + keyWgsl };
const WG = 64;
/** f32 words of workgroup memory the kernels may use (WebGPU's guaranteed 16 KiB). */
const SHARED_WORDS = 4096;

/**
 * Operands of fused attention. q [..., Nq, D], v [..., Nk, D]; k [..., D, Nk] when
 * `keysTransposed` (as the exported graph's Kᵀ), else [..., Nk, D]. Leading axes are
 * (batch, heads) flattened; scores are scale * q k.
 */
export interface AttentionOperands {
  q: GpuTensor;
  k: GpuTensor;
  v: GpuTensor;
  scale: number;
  keysTransposed: boolean;
}

export interface AttentionResult {
  /** softmax(scale q kᵀ) v, shaped like q with v's head dim. */
  out: GpuTensor;
  /** Row log-sum-exp of the scores [BH * Nq] (f32): all the backward pass needs to recompute P. */
  logSumExp: GpuTensor;
}

interface Dims {
  bh: number;
  nq: number;
  nk: number;
  d: number;
}

function dims(op: string, { q, k, v, keysTransposed }: AttentionOperands): Dims {
  floatDtype(op, q, k, v);
  if (q.shape.length < 2 || k.shape.length !== q.shape.length || v.shape.length !== q.shape.length) throw new ShapeError(`${op}: q [${q.shape}], k [${k.shape}], v [${v.shape}] need equal ranks >= 2`);
  const lead = q.shape.slice(0, -2);
  const [nq, d] = q.shape.slice(-2);
  const [nk, dv] = v.shape.slice(-2);
  const kDims = keysTransposed ? [d, nk] : [nk, d];
  if (k.shape.slice(-2).join() !== kDims.join() || dv !== d || k.shape.slice(0, -2).join() !== lead.join() || v.shape.slice(0, -2).join() !== lead.join()) {
    throw new ShapeError(`${op}: q [${q.shape}], k [${k.shape}]${keysTransposed ? ' (transposed)' : ''}, v [${v.shape}] do not fit together`);
  }
  if (nq === 0 || nk === 0 || d === 0) throw new ShapeError(`${op}: empty operands q [${q.shape}], k [${k.shape}]`);
  // Rows are read as vec4s; SD's head dims (40, 64, 80, 160) are all multiples of 4.
  if (d % 4 !== 0 || d > 256) throw new ShapeError(`${op}: head dim ${d} must be a multiple of 4 and at most 256`);
  return { bh: lead.reduce((a, b) => a * b, 1), nq, nk, d };
}

function defines(d: number, sharedRowWords: number, keysTransposed: boolean): Record<string, number> {
  const tile = Math.max(1, Math.min(64, Math.floor(SHARED_WORDS / sharedRowWords)));
  return { D4: d / 4, TILE: tile, K_T: keysTransposed ? 1 : 0 };
}

function uniforms(x: Dims, scale: number): ArrayBuffer {
  if (!Number.isFinite(scale)) throw new RangeError(`attention: scale must be finite, got ${scale}`);
  return new Uniforms().u32(x.nq).u32(x.nk).f32(scale).finish();
}

/** softmax(scale q kᵀ) v without materializing the scores (see attention-forward.wgsl). */
export function attentionForward(ctx: GpuContext, operands: AttentionOperands): AttentionResult {
  const x = dims('attention', operands);
  const { q, k, v } = operands;
  const out = ctx.empty(q.shape, q.dtype === 'f16' ? 'f16' : 'f32');
  const logSumExp = ctx.empty([x.bh * x.nq], 'f32');
  ctx.dispatch({
    kernel: forwardKernel,
    dtype: out.dtype,
    defines: defines(x.d, 2 * x.d, operands.keysTransposed),
    tensors: [q, k, v, out, logSumExp],
    uniforms: uniforms(x, operands.scale),
    workgroups: [Math.ceil(x.nq / WG), x.bh],
  });
  return { out, logSumExp };
}

export interface AttentionGradients {
  dq: GpuTensor;
  /** In k's layout. */
  dk: GpuTensor;
  dv: GpuTensor;
}

/** Gradients of attention from dOut, recomputing the scores from the saved log-sum-exp. */
export function attentionBackward(ctx: GpuContext, operands: AttentionOperands, saved: AttentionResult, dOut: GpuTensor): AttentionGradients {
  const x = dims('attention backward', operands);
  const { q, k, v } = operands;
  if (dOut.shape.join() !== saved.out.shape.join()) throw new ShapeError(`attention backward: dOut [${dOut.shape}] does not match the output [${saved.out.shape}]`);
  const dtype = q.dtype === 'f16' ? 'f16' : 'f32';
  const dq = ctx.empty(q.shape, dtype);
  const dk = ctx.empty(k.shape, dtype);
  const dv = ctx.empty(v.shape, dtype);
  const delta = ctx.empty([x.bh * x.nq], 'f32');
  const block = uniforms(x, operands.scale);
  ctx.dispatch({
    kernel: queryKernel,
    dtype,
    defines: defines(x.d, 2 * x.d, operands.keysTransposed),
    tensors: [q, k, v, saved.out, dOut, saved.logSumExp, dq, delta],
    uniforms: block,
    workgroups: [Math.ceil(x.nq / WG), x.bh],
  });
  ctx.dispatch({
    kernel: keyKernel,
    dtype,
    defines: defines(x.d, 2 * x.d + 2, operands.keysTransposed),
    tensors: [q, k, v, dOut, saved.logSumExp, delta, dk, dv],
    uniforms: block,
    workgroups: [Math.ceil(x.nk / WG), x.bh],
  });
  delta.release();
  return { dq, dk, dv };
}
