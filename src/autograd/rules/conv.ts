import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { col2im, convOutputSize, im2col, type Conv2dGeometry } from '../../gpu/kernels/conv-columns.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { sumToShape } from '../../gpu/kernels/sum-to-shape.ts';
import { copyOf, gradOf, input, intAttribute, intsAttribute, stringAttribute } from './util.ts';
import type { OpRule, VjpContext } from './types.ts';

/** The geometry of a 2-D, group-1 ONNX Conv from its attributes and operand shapes. */
export function conv2dGeometry(v: VjpContext, x: GpuTensor, w: GpuTensor): Conv2dGeometry {
  const where = `Conv ${v.node.name}`;
  if (x.shape.length !== 4 || w.shape.length !== 4) throw new ShapeError(`${where}: only 2-D convolutions are differentiated (x [${x.shape}], W [${w.shape}])`);
  if (intAttribute(v.node, 'group', 1) !== 1) throw new ShapeError(`${where}: grouped convolutions are not differentiated`);
  const autoPad = stringAttribute(v.node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET') throw new ShapeError(`${where}: auto_pad ${autoPad} is not supported; export explicit pads`);
  const [batch, channels, height, width] = x.shape;
  if (w.shape[1] !== channels) throw new ShapeError(`${where}: W [${w.shape}] does not take ${channels} channels`);
  const pair = (name: string, fallback: number): [number, number] => {
    const values = intsAttribute(v.node, name) ?? [fallback, fallback];
    return [values[0], values[1]];
  };
  const pads = intsAttribute(v.node, 'pads') ?? [0, 0, 0, 0];
  return {
    batch,
    channels,
    height,
    width,
    kernel: [w.shape[2], w.shape[3]],
    strides: pair('strides', 1),
    dilations: pair('dilations', 1),
    pads: [pads[0], pads[1], pads[2], pads[3]],
  };
}

// Y = W * X + B (2-D cross-correlation), as a product with im2col columns: Y_n = W2 @ col(X_n)
// with W2 = W viewed [OC, C*KH*KW]. Hence
//   dX = col2im(W2ᵀ @ dY_n)  (the transposed convolution),
//   dW = sum_n dY_n @ col(X_n)ᵀ,   dB = sum of dY over n, y, x.
export const conv: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [x, w] = [input(v, 0), input(v, 1)];
    const g = conv2dGeometry(v, x, w);
    const [oh, ow] = convOutputSize(g);
    const outChannels = w.shape[0];
    const taps = g.channels * g.kernel[0] * g.kernel[1];
    if (dy.shape.join() !== [g.batch, outChannels, oh, ow].join()) throw new ShapeError(`Conv ${v.node.name}: dY [${dy.shape}] does not match the output [${[g.batch, outChannels, oh, ow]}]`);
    const dy3 = dy.reshape([g.batch, outChannels, oh * ow]);
    const w2 = w.reshape([outChannels, taps]);
    let dx: GpuTensor | null = null;
    if (v.needs[0]) {
      const columns = matmul(v.ctx, w2, dy3, { transposeA: true });
      dx = col2im(v.ctx, columns, g);
      columns.release();
    }
    let dw: GpuTensor | null = null;
    if (v.needs[1]) {
      const columns = im2col(v.ctx, x, g);
      const perImage = matmul(v.ctx, dy3, columns, { transposeB: true });
      columns.release();
      if (g.batch === 1) {
        dw = copyOf(v.ctx, perImage, w.shape);
      } else {
        dw = v.ctx.empty(w.shape, perImage.dtype === 'f16' ? 'f16' : 'f32');
        reduce(v.ctx, 'sum', perImage, { axis: 0, out: dw });
      }
      perImage.release();
    }
    let db: GpuTensor | null = null;
    if (v.needs[2]) {
      const summed = sumToShape(v.ctx, dy3, [1, outChannels, 1]);
      db = copyOf(v.ctx, summed, input(v, 2).shape);
      summed.release();
    }
    return [dx, dw, db];
  },
};
