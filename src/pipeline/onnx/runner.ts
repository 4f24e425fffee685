import type { InferenceSession, Tensor } from 'onnxruntime-web';
import type { GpuContext } from '../../gpu/context.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { fromHalf } from '../../util/half.ts';

export type { InferenceSession, Tensor };

export type OrtDataType = 'float32' | 'float16' | 'int32' | 'int64';
export type OrtData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

export interface SessionSpec {
  /** For error messages: the pack file the graph came from. */
  name: string;
  model: Uint8Array;
  /** External data files, by the location the graph's initializers name. */
  externalData?: { path: string; data: Uint8Array }[];
  /** Outputs to keep on the GPU (WebGPU runner); the rest come back to the CPU. */
  gpuOutputs?: string[];
  /** Symbolic dimensions whose value never changes for this pack (e.g. 77 text tokens). */
  freeDimensionOverrides?: Record<string, number>;
}

/**
 * The one seam between Lethe and an ONNX runtime. In the browser: onnxruntime-web's WebGPU EP
 * on the engine's own GPUDevice, so tensors cross between ORT and our kernels as GPU buffers.
 * In Node, where ORT-web's WebGPU EP does not run: onnxruntime-node on the CPU, and the
 * crossings are uploads/readbacks.
 */
export interface OnnxRunner {
  readonly name: string;
  /** True when ORT reads and writes buffers of our GPUDevice directly. */
  readonly sharesDevice: boolean;
  createSession(spec: SessionSpec): Promise<InferenceSession>;
  hostTensor(type: OrtDataType, data: OrtData, dims: readonly number[]): Tensor;
  /** Our tensor as an ORT input (no copy when the device is shared). */
  fromGpu(ctx: GpuContext, tensor: GpuTensor): Promise<Tensor>;
  /**
   * An ORT float output as our tensor (no copy when the device is shared: the result borrows
   * ORT's buffer, so keep the ORT tensor alive until the GpuTensor is no longer used).
   */
  toGpu(ctx: GpuContext, tensor: Tensor): Promise<GpuTensor>;
}

/** The float32 contents of an ORT tensor wherever it lives (float16 is widened). */
export async function readFloat32(tensor: Tensor): Promise<Float32Array> {
  const data = tensor.location === 'cpu' ? tensor.data : await tensor.getData();
  if (data instanceof Float32Array) return data;
  if (tensor.type === 'float16' && data instanceof Uint16Array) return fromHalf(data);
  throw new TypeError(`readFloat32: tensor of type ${tensor.type} is not float32/float16`);
}

export function ortTypeOf(dtype: 'f32' | 'f16' | 'i32' | 'u32'): OrtDataType {
  if (dtype === 'f32') return 'float32';
  if (dtype === 'f16') return 'float16';
  if (dtype === 'i32') return 'int32';
  throw new TypeError(`no ONNX tensor type for ${dtype}`);
}
