import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { binary } from './binary.ts';
import { floatDtype, outputTensor } from './checks.ts';
import { im2col } from './conv-columns.ts';
import { convOutputLength } from './conv-output.ts';
import { matmul } from './matmul.ts';
import conv2dWgsl from './conv2d.wgsl?raw';

const implicitKernel: KernelSource = { name: 'conv2d', wgsl: conv2dWgsl };
const TILE = 64;

export interface Conv2dOptions {
  bias?: GpuTensor;
  /** [height, width]; default [1, 1]. */
  strides?: readonly [number, number];
  /** ONNX order [top, left, bottom, right]; default zeros. */
  pads?: readonly [number, number, number, number];
  /** [height, width]; default [1, 1]. */
  dilations?: readonly [number, number];
  /** Default 1; must divide both channel counts. */
  groups?: number;
  /**
   * 'implicit' (default): one tiled GEMM kernel that computes input coordinates while loading.
   * 'im2col': writes the [K, OH*OW] column matrix per image (conv-columns.ts), then our matmul and a bias add;
   * kept for comparison (bench), groups = 1 only.
   */
  strategy?: 'implicit' | 'im2col';
  out?: GpuTensor;
}

/** Output [N, Cout, OH, OW] of ONNX Conv on x [N, Cin, H, W], weight [Cout, Cin/groups, KH, KW]. */
export function conv2dOutputShape(xShape: readonly number[], wShape: readonly number[], options: Pick<Conv2dOptions, 'strides' | 'pads' | 'dilations' | 'groups'> = {}): number[] {
  if (xShape.length !== 4 || wShape.length !== 4) throw new ShapeError(`conv2d: input [${xShape}] and weight [${wShape}] must both have rank 4`);
  const [batch, inChannels, height, width] = xShape;
  const [outChannels, inPerGroup, kernelHeight, kernelWidth] = wShape;
  const groups = options.groups ?? 1;
  const [sh, sw] = options.strides ?? [1, 1];
  const [dh, dw] = options.dilations ?? [1, 1];
  const [top, left, bottom, right] = options.pads ?? [0, 0, 0, 0];
  for (const v of [groups, sh, sw, dh, dw]) if (!Number.isInteger(v) || v < 1) throw new ShapeError(`conv2d: groups, strides and dilations must be positive integers, got groups ${groups}, strides [${sh}, ${sw}], dilations [${dh}, ${dw}]`);
  for (const v of [top, left, bottom, right]) if (!Number.isInteger(v) || v < 0) throw new ShapeError(`conv2d: pads [${options.pads}] must be non-negative integers`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0 || inPerGroup * groups !== inChannels) {
    throw new ShapeError(`conv2d: input [${xShape}] and weight [${wShape}] do not fit ${groups} group(s)`);
  }
  const outHeight = convOutputLength(height, kernelHeight, sh, dh, top, bottom);
  const outWidth = convOutputLength(width, kernelWidth, sw, dw, left, right);
  if (outHeight < 1 || outWidth < 1) throw new ShapeError(`conv2d: a ${kernelHeight}x${kernelWidth} kernel does not fit input [${xShape}] with pads [${options.pads ?? [0, 0, 0, 0]}]`);
  return [batch, outChannels, outHeight, outWidth];
}

/** ONNX Conv (2-D, NCHW): zero padding, strides, dilations, groups, optional bias [Cout]. */
export function conv2d(ctx: GpuContext, x: GpuTensor, weight: GpuTensor, options: Conv2dOptions = {}): GpuTensor {
  const dtype = options.bias ? floatDtype('conv2d', x, weight, options.bias) : floatDtype('conv2d', x, weight);
  const shape = conv2dOutputShape(x.shape, weight.shape, options);
  const [batch, outChannels, outHeight, outWidth] = shape;
  const [, inChannels, inHeight, inWidth] = x.shape;
  const [, , kernelHeight, kernelWidth] = weight.shape;
  if (options.bias && (options.bias.size !== outChannels)) throw new ShapeError(`conv2d: bias [${options.bias.shape}] must have ${outChannels} elements`);
  const groups = options.groups ?? 1;
  const [strideH, strideW] = options.strides ?? [1, 1];
  const [dilationH, dilationW] = options.dilations ?? [1, 1];
  const [padTop, padLeft] = options.pads ?? [0, 0, 0, 0];
  const inputs = options.bias ? [x, weight, options.bias] : [x, weight];
  const out = outputTensor(ctx, 'conv2d', shape, dtype, inputs, options.out);
  if (options.strategy === 'im2col') {
    if (groups !== 1) throw new ShapeError(`conv2d: the im2col strategy handles groups = 1 only, got ${groups}`);
    const depth = inChannels * kernelHeight * kernelWidth;
    const pixels = outHeight * outWidth;
    const cols = im2col(ctx, x, {
      batch, channels: inChannels, height: inHeight, width: inWidth,
      kernel: [kernelHeight, kernelWidth], strides: [strideH, strideW], dilations: [dilationH, dilationW],
      pads: (options.pads ?? [0, 0, 0, 0]) as [number, number, number, number],
    });
    const flatOut = out.reshape([batch, outChannels, pixels]);
    if (options.bias) {
      const product = matmul(ctx, weight.reshape([outChannels, depth]), cols);
      binary(ctx, 'add', product, options.bias.reshape([outChannels, 1]), { out: flatOut });
      product.release();
    } else {
      matmul(ctx, weight.reshape([outChannels, depth]), cols, { out: flatOut });
    }
    cols.release();
    return out;
  }
  const uniforms = new Uniforms()
    .u32(inChannels).u32(inHeight).u32(inWidth).u32(outChannels).u32(outHeight).u32(outWidth).u32(kernelHeight).u32(kernelWidth)
    .u32(strideH).u32(strideW).u32(padTop).u32(padLeft).u32(dilationH).u32(dilationW).u32(groups).u32(options.bias ? 1 : 0)
    .finish();
  const maxGroups = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const zGroups = batch * groups;
  if (zGroups > maxGroups) throw new ShapeError(`conv2d: batch ${batch} x ${groups} groups exceeds ${maxGroups} workgroups`);
  ctx.dispatch({
    kernel: implicitKernel,
    dtype,
    tensors: [x, weight, options.bias ?? weight, out],
    uniforms,
    workgroups: [Math.ceil((outHeight * outWidth) / TILE), Math.ceil(outChannels / groups / TILE), zGroups],
  });
  return out;
}
