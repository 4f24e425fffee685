import type { GpuContext } from '../context.ts';
import type { KernelSource } from '../kernel-registry.ts';
import type { GpuTensor } from '../tensor.ts';
import { Uniforms } from '../uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { floatDtype } from './checks.ts';
import { convOutputLength } from './conv-output.ts';
import { flatGrid } from './grid.ts';
import wgsl from './im2col.wgsl?raw';

const kernel: KernelSource = { name: 'im2col', wgsl };

/** A 2-D convolution's geometry (ONNX Conv attributes, group 1). */
export interface Conv2dGeometry {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** ONNX order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
}

export function convOutputSize(g: Conv2dGeometry): [number, number] {
  return [
    convOutputLength(g.height, g.kernel[0], g.strides[0], g.dilations[0], g.pads[0], g.pads[2]),
    convOutputLength(g.width, g.kernel[1], g.strides[1], g.dilations[1], g.pads[1], g.pads[3]),
  ];
}

function uniforms(g: Conv2dGeometry, count: number): ArrayBuffer {
  const [oh, ow] = convOutputSize(g);
  if (oh < 1 || ow < 1) throw new ShapeError(`conv: kernel [${g.kernel}] does not fit input ${g.height}x${g.width} with pads [${g.pads}]`);
  return new Uniforms()
    .u32(g.batch).u32(g.channels).u32(g.height).u32(g.width)
    .u32(g.kernel[0]).u32(g.kernel[1]).u32(oh).u32(ow)
    .u32(g.strides[0]).u32(g.strides[1]).u32(g.dilations[0]).u32(g.dilations[1])
    .u32(g.pads[0]).u32(g.pads[1]).u32(count)
    .finish();
}

/** x [N, C, H, W] -> columns [N, C*KH*KW, OH*OW]. */
export function im2col(ctx: GpuContext, x: GpuTensor, g: Conv2dGeometry): GpuTensor {
  const dtype = floatDtype('im2col', x);
  if (x.shape.join() !== [g.batch, g.channels, g.height, g.width].join()) throw new ShapeError(`im2col: input [${x.shape}] does not match the geometry`);
  const [oh, ow] = convOutputSize(g);
  const out = ctx.empty([g.batch, g.channels * g.kernel[0] * g.kernel[1], oh * ow], dtype);
  ctx.dispatch({ kernel, dtype, defines: { IM2COL: 1 }, tensors: [x, out], uniforms: uniforms(g, out.size), workgroups: flatGrid(Math.ceil(out.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension) });
  return out;
}

/** The adjoint of im2col: columns [N, C*KH*KW, OH*OW] -> [N, C, H, W], overlapping taps summed. */
export function col2im(ctx: GpuContext, columns: GpuTensor, g: Conv2dGeometry): GpuTensor {
  const dtype = floatDtype('col2im', columns);
  const [oh, ow] = convOutputSize(g);
  if (columns.size !== g.batch * g.channels * g.kernel[0] * g.kernel[1] * oh * ow) throw new ShapeError(`col2im: columns [${columns.shape}] do not match the geometry`);
  const out = ctx.empty([g.batch, g.channels, g.height, g.width], dtype);
  ctx.dispatch({ kernel, dtype, defines: { IM2COL: 0 }, tensors: [columns, out], uniforms: uniforms(g, out.size), workgroups: flatGrid(Math.ceil(out.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension) });
  return out;
}
