/**
 * onnxruntime-node on the CPU (Node only: CLI and tests). Tensors cross to our Dawn device by
 * upload/readback; ORT-web's WebGPU EP does not run in Node.
 */
import * as ortNode from 'onnxruntime-node';
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { fromHalf, toHalf } from '../../util/half.ts';
import type { OnnxRunner, OrtData, OrtDataType, SessionSpec, Tensor } from './runner.ts';

export class NodeOnnxRunner implements OnnxRunner {
  readonly name = 'onnxruntime-node (CPU)';
  readonly sharesDevice = false;

  async createSession(spec: SessionSpec) {
    try {
      const session = await ortNode.InferenceSession.create(spec.model, {
        executionProviders: ['cpu'],
        externalData: spec.externalData,
        freeDimensionOverrides: spec.freeDimensionOverrides,
        graphOptimizationLevel: 'all',
      } as ortNode.InferenceSession.SessionOptions);
      return session as unknown as Awaited<ReturnType<OnnxRunner['createSession']>>;
    } catch (error) {
      throw new Error(`onnxruntime-node could not load ${spec.name}: ${(error as Error).message}`);
    }
  }

  hostTensor(type: OrtDataType, data: OrtData, dims: readonly number[]): Tensor {
    return new ortNode.Tensor(type, data, dims) as unknown as Tensor;
  }

  async fromGpu(ctx: GpuContext, tensor: GpuTensor): Promise<Tensor> {
    const values = await ctx.read(tensor);
    if (tensor.dtype === 'f16') return this.hostTensor('float16', toHalf(values), tensor.shape);
    return this.hostTensor('float32', values, tensor.shape);
  }

  async toGpu(ctx: GpuContext, tensor: Tensor): Promise<GpuTensor> {
    if (tensor.type === 'float32') return ctx.upload(tensor.data as Float32Array, tensor.dims);
    if (tensor.type === 'float16') return ctx.upload(fromHalf(tensor.data as Uint16Array), tensor.dims);
    throw new TypeError(`toGpu: ${tensor.type} outputs are not supported`);
  }
}
