import { BufferPool } from './buffer-pool.ts';
import { BYTES_PER_ELEMENT, elementCount, type GpuDtype } from './dtype.ts';
import { KernelRegistry, type KernelSource } from './kernel-registry.ts';
import { GpuTensor } from './tensor.ts';
import { fromHalf, toHalf } from '../util/half.ts';

const MAP_MODE_READ = 1;
const STORAGE_USAGE = GPUBufferUsageFlagsOf('STORAGE', 'COPY_SRC', 'COPY_DST');

export interface DispatchOptions {
  kernel: KernelSource;
  /** Storage element type the kernel is compiled for (default: the first tensor's dtype). */
  dtype?: GpuDtype;
  defines?: Record<string, number | string>;
  /** Bound in order at @binding(0..n-1) of group 0, storage tensors first. */
  tensors: GpuTensor[];
  /** Bound at @binding(n) as a uniform block, when present. */
  uniforms?: ArrayBuffer;
  workgroups: readonly [number, number?, number?];
}

export interface DeviceLostInfo {
  reason: string;
  message: string;
}

/**
 * One engine's view of its GPUDevice: tensors from a buffer pool, compiled kernels, and a
 * command encoder that batches dispatches until something needs the results.
 */
export class GpuContext {
  readonly pool: BufferPool;
  readonly kernels: KernelRegistry;
  readonly shaderF16: boolean;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingUniforms: GPUBuffer[] = [];
  private readonly errors: string[] = [];
  /** Out-of-memory errors since the last takeOutOfMemory(): onnxruntime-web's as well as ours (it allocates on this device). */
  private outOfMemory: string[] = [];
  private readonly lostListeners = new Set<(info: DeviceLostInfo) => void>();
  private lost = false;
  private destroyedByUs = false;
  dispatches = 0;

  constructor(readonly device: GPUDevice) {
    this.pool = new BufferPool(device);
    this.kernels = new KernelRegistry(device);
    this.shaderF16 = device.features.has('shader-f16');
    device.addEventListener('uncapturederror', (event) => this.recordUncapturedError((event as GPUUncapturedErrorEvent).error));
    void device.lost.then((info) => {
      this.lost = true;
      // 'destroyed' is only ours to ignore: a device another library or the browser destroyed is lost.
      if (this.destroyedByUs) return;
      for (const listener of this.lostListeners) listener({ reason: String(info.reason), message: info.message || 'the device was destroyed' });
    });
  }

  /**
   * An error nobody captured with an error scope. An allocation that failed leaves an invalid
   * buffer behind, and the call that uses it later fails with a validation error that does not
   * say why; the out-of-memory error is kept apart so that call can be reported as what it is.
   */
  recordUncapturedError(error: Pick<GPUError, 'message'>): void {
    this.errors.push(error.message);
    if (isOutOfMemory(error)) this.outOfMemory.push(error.message);
  }

  /** The out-of-memory errors recorded since the last call (first one first), then forgets them. */
  takeOutOfMemory(): string[] {
    const taken = this.outOfMemory;
    this.outOfMemory = [];
    return taken;
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** Called when the device is lost for any reason but our own destroy(); the engine recovers. */
  onDeviceLost(listener: (info: DeviceLostInfo) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  empty(shape: readonly number[], dtype: GpuDtype = 'f32', label?: string): GpuTensor {
    const bytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (bytes > this.device.limits.maxStorageBufferBindingSize) {
      throw new RangeError(`tensor [${shape}] ${dtype} needs ${bytes} bytes, over this adapter's maxStorageBufferBindingSize (${this.device.limits.maxStorageBufferBindingSize})`);
    }
    return new GpuTensor(shape, dtype, this.pool.acquire(Math.max(bytes, 4), STORAGE_USAGE, label), this.pool);
  }

  /** Uploads float data, storing it as f32 or (converted) f16. */
  upload(data: Float32Array | Float64Array | readonly number[], shape: readonly number[], dtype: 'f32' | 'f16' = 'f32'): GpuTensor {
    if (elementCount(shape) !== data.length) throw new RangeError(`upload: shape [${shape}] has ${elementCount(shape)} elements, data has ${data.length}`);
    const tensor = this.empty(shape, dtype);
    const payload = dtype === 'f16' ? toHalf(data) : data instanceof Float32Array ? data : Float32Array.from(data);
    this.writeTensor(tensor, payload);
    return tensor;
  }

  uploadInt32(data: Int32Array, shape: readonly number[]): GpuTensor {
    if (elementCount(shape) !== data.length) throw new RangeError(`uploadInt32: shape [${shape}] has ${elementCount(shape)} elements, data has ${data.length}`);
    const tensor = this.empty(shape, 'i32');
    this.writeTensor(tensor, data);
    return tensor;
  }

  /** Overwrites a tensor's contents from the CPU (ordered after all work recorded so far). */
  writeTensor(tensor: GpuTensor, data: Float32Array | Uint16Array | Int32Array | Uint32Array): void {
    if (data.byteLength !== tensor.byteLength) throw new RangeError(`writeTensor: ${data.byteLength} bytes for a ${tensor.byteLength}-byte tensor`);
    // queue.writeBuffer runs before commands still in our encoder: submit those first.
    this.flush();
    const padded = data.byteLength % 4 === 0 ? data : padTo4(data as Uint16Array);
    this.device.queue.writeBuffer(tensor.buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
  }

  dispatch(options: DispatchOptions): void {
    const dtype = options.dtype ?? options.tensors[0]?.dtype ?? 'f32';
    const pipeline = this.kernels.pipeline(options.kernel, dtype === 'i32' || dtype === 'u32' ? 'f32' : dtype, options.defines);
    const entries: GPUBindGroupEntry[] = options.tensors.map((tensor, binding) => ({ binding, resource: { buffer: tensor.buffer } }));
    if (options.uniforms) {
      const uniformBuffer = this.pool.acquire(options.uniforms.byteLength, GPUBufferUsageFlagsOf('UNIFORM', 'COPY_DST'));
      this.device.queue.writeBuffer(uniformBuffer, 0, options.uniforms);
      this.pendingUniforms.push(uniformBuffer);
      entries.push({ binding: options.tensors.length, resource: { buffer: uniformBuffer, size: options.uniforms.byteLength } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const [x, y = 1, z = 1] = options.workgroups;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new RangeError(`${options.kernel.name}: dispatch [${x}, ${y}, ${z}] exceeds maxComputeWorkgroupsPerDimension (${maxGroups})`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  /** Copies `source` into `target` (whole tensors of equal byte length). */
  copy(source: GpuTensor, target: GpuTensor): void {
    if (source.byteLength !== target.byteLength) throw new RangeError(`copy: ${source.byteLength} bytes into ${target.byteLength}`);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(source.buffer, 0, target.buffer, 0, alignUp4(source.byteLength));
  }

  /** Submits recorded work. */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    // Uniform buffers go back only after the submit that reads them.
    for (const buffer of this.pendingUniforms) this.pool.release(buffer);
    this.pendingUniforms = [];
  }

  /** Submits and waits for the GPU; throws validation errors collected so far. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwCollectedErrors();
  }

  async read(tensor: GpuTensor): Promise<Float32Array> {
    const bytes = await this.readBytes(tensor);
    if (tensor.dtype === 'f16') return fromHalf(new Uint16Array(bytes, 0, tensor.size));
    if (tensor.dtype === 'f32') return new Float32Array(bytes, 0, tensor.size);
    const ints = tensor.dtype === 'i32' ? new Int32Array(bytes, 0, tensor.size) : new Uint32Array(bytes, 0, tensor.size);
    return Float32Array.from(ints);
  }

  async readInt32(tensor: GpuTensor): Promise<Int32Array> {
    if (tensor.dtype !== 'i32') throw new TypeError(`readInt32 on a ${tensor.dtype} tensor`);
    return new Int32Array(await this.readBytes(tensor), 0, tensor.size);
  }

  /** Raw bytes of a tensor (length rounded up to 4). */
  async readBytes(tensor: GpuTensor): Promise<ArrayBuffer> {
    const size = alignUp4(tensor.byteLength);
    const staging = this.pool.acquire(size, GPUBufferUsageFlagsOf('MAP_READ', 'COPY_DST'));
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(tensor.buffer, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MAP_MODE_READ, 0, size);
      const copy = staging.getMappedRange(0, size).slice(0);
      staging.unmap();
      this.throwCollectedErrors();
      return copy;
    } finally {
      this.pool.release(staging);
    }
  }

  destroy(): void {
    this.destroyedByUs = true;
    // Gone now, not when device.lost settles: the engine's next call must acquire a new device.
    this.lost = true;
    this.flush();
    this.pool.trim();
    this.device.destroy();
  }

  private throwCollectedErrors(): void {
    if (this.errors.length === 0) return;
    const messages = this.errors.splice(0);
    throw new Error(`WebGPU error: ${messages.join('\n')}`);
  }

  private commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

function alignUp4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

function padTo4(data: Uint16Array): Uint16Array {
  const padded = new Uint16Array(data.length + 1);
  padded.set(data);
  return padded;
}

type UsageName = 'STORAGE' | 'COPY_SRC' | 'COPY_DST' | 'UNIFORM' | 'MAP_READ';

/** Usage flags by name; GPUBufferUsage is a global only once WebGPU is loaded (Dawn in Node). */
function GPUBufferUsageFlagsOf(...names: UsageName[]): number {
  const bits: Record<UsageName, number> = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 };
  return names.reduce((flags, name) => flags | bits[name], 0);
}

/** GPUOutOfMemoryError where the platform defines it; Dawn's Vulkan message otherwise. */
function isOutOfMemory(error: Pick<GPUError, 'message'>): boolean {
  if (typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError) return true;
  return /out of (device |host )?memory|OUT_OF_(DEVICE|HOST)_MEMORY/i.test(error.message);
}
