import type { GpuTensor } from '../../gpu/tensor.ts';
import { ShapeError } from '../../util/errors.ts';
import { matmul as matmulKernel } from '../../gpu/kernels/matmul.ts';
import { affine } from '../../gpu/kernels/unary.ts';
import { copyOf, floatAttribute, gradOf, input, intAttribute, unbroadcast } from './util.ts';
import type { OpRule } from './types.ts';

const batchCount = (t: GpuTensor): number => t.shape.slice(0, -2).reduce((a, b) => a * b, 1);

// Y = A @ B (batched over leading axes; a side with one batch broadcasts):
//   dA = dY @ Bᵀ,  dB = Aᵀ @ dY,  each summed over the batches it was broadcast across.
export const matmul: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [a, b] = [input(v, 0), input(v, 1)];
    if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError(`MatMul ${v.node.name}: 1-D operands are not differentiated ([${a.shape}] @ [${b.shape}])`);
    let da: GpuTensor | null = null;
    let db: GpuTensor | null = null;
    if (v.needs[0]) da = unbroadcast(v.ctx, matmulKernel(v.ctx, dy, b, { transposeB: true }), a.shape);
    if (v.needs[1]) {
      if (batchCount(b) === 1 && batchCount(a) > 1) {
        // Shared weight: fold the batch into the rows, one [K, M'] @ [M', N] product.
        const [k, n] = b.shape.slice(-2);
        const rows = a.size / k;
        const product = matmulKernel(v.ctx, a.reshape([rows, k]), dy.reshape([rows, n]), { transposeA: true });
        db = copyOf(v.ctx, product, b.shape);
        product.release();
      } else {
        db = unbroadcast(v.ctx, matmulKernel(v.ctx, a, dy, { transposeA: true }), b.shape);
      }
    }
    return [da, db];
  },
};

// Y = alpha op(A) op(B) + beta C, op = optional transpose (A, B 2-D):
//   dA = alpha dY op(B)ᵀ (transposed back when transA), dB = alpha op(A)ᵀ dY (likewise), dC = beta dY.
export const gemm: OpRule = {
  backward: (v, grads) => {
    const dy = gradOf(v, grads);
    const [a, b] = [input(v, 0), input(v, 1)];
    const alpha = floatAttribute(v.node, 'alpha', 1);
    const beta = floatAttribute(v.node, 'beta', 1);
    const transA = intAttribute(v.node, 'transA', 0) === 1;
    const transB = intAttribute(v.node, 'transB', 0) === 1;
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError(`Gemm ${v.node.name}: operands must be 2-D, got [${a.shape}] and [${b.shape}]`);
    const da = !v.needs[0] ? null : transA
      ? matmulKernel(v.ctx, b, dy, { transposeA: transB, transposeB: true, alpha })
      : matmulKernel(v.ctx, dy, b, { transposeB: !transB, alpha });
    const db = !v.needs[1] ? null : transB
      ? matmulKernel(v.ctx, dy, a, { transposeA: true, transposeB: transA, alpha })
      : matmulKernel(v.ctx, a, dy, { transposeA: !transA, alpha });
    let dc: GpuTensor | null = null;
    if (v.needs[2]) dc = unbroadcast(v.ctx, affine(v.ctx, dy, beta, 0), input(v, 2).shape);
    return [da, db, dc];
  },
};
