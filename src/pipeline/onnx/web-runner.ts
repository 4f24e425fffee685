import type { GpuContext } from '../../gpu/context.ts';
import { GpuTensor } from '../../gpu/tensor.ts';
import { ort } from './ort-web.ts';
import { ortTypeOf, type OnnxRunner, type OrtData, type OrtDataType, type SessionSpec, type Tensor } from './runner.ts';

/** onnxruntime-web's WebGPU EP on the engine's device (browser and worker only). */
export class WebGpuOnnxRunner implements OnnxRunner {
  readonly name = 'onnxruntime-web (WebGPU)';
  readonly sharesDevice = true;

  constructor(private readonly device: GPUDevice) {}

  async createSession(spec: SessionSpec) {
    const preferredOutputLocation: Record<string, 'gpu-buffer' | 'cpu'> = {};
    for (const name of spec.gpuOutputs ?? []) preferredOutputLocation[name] = 'gpu-buffer';
    try {
      return await ort.InferenceSession.create(spec.model, {
        executionProviders: [{ name: 'webgpu', device: this.device }],
        preferredOutputLocation,
        externalData: spec.externalData,
        freeDimensionOverrides: spec.freeDimensionOverrides,
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (error) {
      throw new Error(`onnxruntime-web could not load ${spec.name}: ${(error as Error).message}`);
    }
  }

  hostTensor(type: OrtDataType, data: OrtData, dims: readonly number[]): Tensor {
    return new ort.Tensor(type, data, dims);
  }

  async fromGpu(_ctx: GpuContext, tensor: GpuTensor): Promise<Tensor> {
    return ort.Tensor.fromGpuBuffer(tensor.buffer, { dataType: ortTypeOf(tensor.dtype) as 'float32', dims: tensor.shape });
  }

  async toGpu(ctx: GpuContext, tensor: Tensor): Promise<GpuTensor> {
    if (tensor.location === 'gpu-buffer') {
      // ORT's queue and ours are the same device queue: its writes are ordered before our reads.
      const dtype = tensor.type === 'float16' ? 'f16' : tensor.type === 'float32' ? 'f32' : null;
      if (!dtype) throw new TypeError(`toGpu: ${tensor.type} outputs are not supported`);
      return new GpuTensor(tensor.dims, dtype, tensor.gpuBuffer as GPUBuffer, null);
    }
    if (tensor.type !== 'float32') throw new TypeError(`toGpu: ${tensor.type} CPU outputs are not supported`);
    return ctx.upload(tensor.data as Float32Array, tensor.dims);
  }
}
